package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run Clientele as a separate process, built once
// per test binary, so that they can kill it, signal it and measure it.

// builds holds the binaries built so far, by build tags, in binaryDir
// (removed by TestMain).
var (
	buildsMu  sync.Mutex
	builds    = map[string]*build{}
	binaryDir string
)

type build struct {
	once sync.Once
	path string
	err  error
}

func clienteleBinary(t *testing.T) string { return clienteleBinaryTagged(t, "") }

// clienteleBinaryTagged builds the server once per test binary with the
// given build tags (comma-separated; "" for the released binary).
func clienteleBinaryTagged(t *testing.T, tags string) string {
	t.Helper()
	buildsMu.Lock()
	b := builds[tags]
	if b == nil {
		b = &build{}
		builds[tags] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		buildsMu.Lock()
		if binaryDir == "" {
			binaryDir, b.err = os.MkdirTemp("", "clientele-bin-")
		}
		dir := binaryDir
		buildsMu.Unlock()
		if b.err != nil {
			return
		}
		b.path = filepath.Join(dir, "clientele")
		args := []string{"build", "-o", b.path}
		if tags != "" {
			b.path += "-" + strings.ReplaceAll(tags, ",", "-")
			args = []string{"build", "-tags", tags, "-o", b.path}
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

const (
	testAdminID     = "ops-admin"
	testAdminSecret = "e2e-admin-secret-0123456789abcdef0123"
)

// proc is one Clientele process.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	base           string
	stdout, stderr *syncBuffer
	done           chan struct{}
	exitErr        error
}

// startProc starts the binary on a free loopback port with a configured
// admin, the given store and extra environment, and waits until it is ready.
func startProc(t *testing.T, db string, env ...string) *proc {
	t.Helper()
	return startBinary(t, clienteleBinary(t), freeAddr(t), db, env...)
}

// startBinary is startProc with a given binary and address (a restarted
// server keeps its address).
func startBinary(t *testing.T, bin, addr, db string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "--addr", addr, "--db", db)
	cmd.Env = append(os.Environ(),
		"CLIENTELE_ADMIN_CLIENT_ID="+testAdminID,
		"CLIENTELE_ADMIN_CLIENT_SECRET="+testAdminSecret,
		"CLIENTELE_RATE_LIMIT=0")
	cmd.Env = append(cmd.Env, env...)
	p := &proc{t: t, cmd: cmd, base: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exitErr = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("clientele exited early: %v\n%s", p.exitErr, p.stderr)
		default:
		}
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("clientele not ready:\n%s", p.stderr)
	return nil
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// wait waits for the process to exit by itself.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr
	case <-time.After(d):
		p.t.Fatalf("clientele did not exit within %v", d)
		return nil
	}
}

// peakRSS is the process's high-water resident set, in KiB.
func (p *proc) peakRSS() int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	return 0
}

// client is an HTTP client of one process with a token of the admin.
type client struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

func (p *proc) client() *client {
	c := &client{t: p.t, base: p.base, hc: &http.Client{Timeout: 30 * time.Second}}
	c.token = c.fetchToken(testAdminID, testAdminSecret)
	return c
}

func (c *client) fetchToken(id, secret string) string {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tb struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tb); err != nil || resp.StatusCode != 200 {
		c.t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tb.AccessToken
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) object() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

// do sends one request; a transport error is returned, not fatal, so that
// load and fault tests can count it.
func (c *client) do(method, path, contentType, body string) (reply, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func (c *client) must(method, path, contentType, body string, want int) reply {
	c.t.Helper()
	r, err := c.do(method, path, contentType, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (c *client) create(name string) (id, secret string) {
	c.t.Helper()
	r := c.must(http.MethodPost, "/oauth-clients", "application/json",
		`{"name":"`+name+`","grantTypes":["CLIENT_CREDENTIALS"],"scope":["sp:oauth-client:read"]}`, 201)
	m := r.object()
	return m["id"].(string), m["secret"].(string)
}
