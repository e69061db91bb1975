package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientele/clientele/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// syncBuffer collects a server's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is one Clientele started through run() on a free loopback port.
type server struct {
	base           string
	stdout, stderr *syncBuffer
	stop           func() error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t testing.TB, env map[string]string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{base: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	getenv := func(k string) string { return env[k] }
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--addr", addr}, args...), getenv, s.stdout, s.stderr) }()
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				runErr = fmt.Errorf("run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, s.stderr)
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server not ready; stderr:\n%s", s.stderr)
	return nil
}

var adminLine = regexp.MustCompile(`client id:\s+(\S+)\s+client secret:\s+(\S+)`)

func (s *server) token(t *testing.T, id, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tb struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tb); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	return tb.AccessToken
}

func (s *server) call(t *testing.T, tok, method, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestRunPrintsFirstAdminAndServes(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "c.db")
	s := startServer(t, nil, "--db", "sqlite://"+dbPath)
	m := adminLine.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no admin credentials on stderr:\n%s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "curl -s -u '"+m[1]+":"+m[2]+"' -d grant_type=client_credentials "+s.base+"/oauth/token") {
		t.Errorf("stderr lacks the token curl line:\n%s", s.stderr)
	}
	tok := s.token(t, m[1], m[2])
	resp, body := s.call(t, tok, http.MethodPost, "/oauth-clients", "application/json",
		`{"name":"e2e","grantTypes":["CLIENT_CREDENTIALS"]}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct{ ID, Secret string }
	_ = json.Unmarshal(body, &created)
	resp, body = s.call(t, tok, http.MethodPatch, "/oauth-clients/"+created.ID, "application/json-patch+json",
		`[{"op":"copy","from":"/secret","path":"/description"}]`)
	if resp.StatusCode != 400 || !bytes.Contains(body, []byte("400.1.1 Illegal update attempt")) {
		t.Errorf("refused patch: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.call(t, "", http.MethodGet, "/oauth-clients", "", ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	resp, body = s.call(t, "", http.MethodGet, "/openapi.yaml", "", "")
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("openapi: 3.0.3")) {
		t.Errorf("/openapi.yaml: %d %.40s", resp.StatusCode, body)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// A JSON log line per request, without secrets or tokens.
	logs := s.stdout.String()
	if !strings.Contains(logs, `"route":"/oauth-clients/:id"`) || strings.Contains(logs, m[2]) || strings.Contains(logs, tok) || strings.Contains(logs, created.Secret) {
		t.Errorf("request log lines wrong or leaking:\n%s", logs)
	}

	// A restart on the same file neither creates a second admin nor loses data.
	s2 := startServer(t, nil, "--db", "sqlite://"+dbPath)
	if adminLine.MatchString(s2.stderr.String()) {
		t.Errorf("a second admin was created:\n%s", s2.stderr)
	}
	tok = s2.token(t, m[1], m[2])
	if resp, body := s2.call(t, tok, http.MethodGet, "/oauth-clients/"+created.ID, "", ""); resp.StatusCode != 200 {
		t.Errorf("after restart: %d %s", resp.StatusCode, body)
	}
}

func TestRunConfiguredAdmin(t *testing.T) {
	env := map[string]string{
		"CLIENTELE_ADMIN_CLIENT_ID":     "ops-admin",
		"CLIENTELE_ADMIN_CLIENT_SECRET": strings.Repeat("s3cr3t", 6),
		"CLIENTELE_DB":                  "sqlite://" + filepath.Join(t.TempDir(), "c.db"),
		"CLIENTELE_RATE_LIMIT":          "0",
	}
	s := startServer(t, env)
	if adminLine.MatchString(s.stderr.String()) {
		t.Errorf("printed generated credentials although an admin was configured:\n%s", s.stderr)
	}
	tok := s.token(t, "ops-admin", env["CLIENTELE_ADMIN_CLIENT_SECRET"])
	resp, body := s.call(t, tok, http.MethodGet, "/v3/oauth-clients/ops-admin", "", "")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"scope":["sp:scopes:all"]`)) {
		t.Errorf("admin: %d %s", resp.StatusCode, body)
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad flag", []string{"--nope"}, nil, "flag provided but not defined"},
		{"bad rate", []string{"--rate-limit", "lots"}, nil, "--rate-limit"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"one admin variable", nil, map[string]string{"CLIENTELE_ADMIN_CLIENT_ID": "x"}, "both"},
		{"short admin secret", nil, map[string]string{"CLIENTELE_ADMIN_CLIENT_ID": "x", "CLIENTELE_ADMIN_CLIENT_SECRET": "short"}, "32"},
		{"bad db", []string{"--db", "mysql://x"}, nil, "mysql"},
		{"bad signing alg", []string{"--signing-alg", "HS256"}, nil, "--signing-alg"},
		{"negative publish lead", []string{"--key-publish-lead", "-1s"}, nil, "--key-publish-lead"},
		{"rotation within the lead", []string{"--key-rotation-interval", "5m"}, nil, "--key-rotation-interval"},
		{"bad lead variable", nil, map[string]string{"CLIENTELE_KEY_PUBLISH_LEAD": "soon"}, "--key-publish-lead"},
		{"short encryption key", nil, map[string]string{"CLIENTELE_KEY_ENCRYPTION_KEY": "short"}, "at least 16"},
		{"bad registration mode", []string{"--registration", "on"}, nil, "--registration"},
		{"bad registration variable", nil, map[string]string{"CLIENTELE_REGISTRATION": "yes"}, "--registration"},
		{"unreachable postgres", []string{"--db", "postgres://u:p@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--addr", freeAddr(t), "--db", "sqlite://" + filepath.Join(t.TempDir(), "c.db")}, tt.args...)
			var stderr bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, io.Discard, &stderr)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if tt.want != "" && !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	// A port in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), []string{"--addr", ln.Addr().String(), "--db", "sqlite://:memory:"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("port in use: %v", err)
	}
}

func TestRunOnPostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	s := startServer(t, map[string]string{"CLIENTELE_DB": dbURL})
	m := adminLine.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no admin printed:\n%s", s.stderr)
	}
	tok := s.token(t, m[1], m[2])
	resp, body := s.call(t, tok, http.MethodGet, "/oauth-clients?count=true", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("X-Total-Count") != "1" {
		t.Errorf("list on PostgreSQL: %d %s", resp.StatusCode, body)
	}
}
