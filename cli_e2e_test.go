package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clientele/clientele/cli"
)

// The tests in this file drive the command line of SPEC §11 against a real
// server on a loopback port, the way a person or a pipeline would.

// cliServer starts a server with a configured admin and no rate limit.
func cliServer(t *testing.T) *server {
	t.Helper()
	return startServer(t, map[string]string{
		"CLIENTELE_ADMIN_CLIENT_ID":     testAdminID,
		"CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
		"CLIENTELE_DB":                  "sqlite://" + filepath.Join(t.TempDir(), "cli.db"),
		"CLIENTELE_RATE_LIMIT":          "0",
	})
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs one command line against s as the admin, with stdin.
func runCLI(t *testing.T, s *server, stdin string, args ...string) cliResult {
	t.Helper()
	env := map[string]string{"CLIENTELE_URL": s.base, "CLIENTELE_CLIENT_ID": testAdminID, "CLIENTELE_CLIENT_SECRET": testAdminSecret}
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
	})
	return cliResult{stdout.String(), stderr.String(), code}
}

// mustCLI runs a command line that must succeed.
func mustCLI(t *testing.T, s *server, stdin string, args ...string) string {
	t.Helper()
	r := runCLI(t, s, stdin, args...)
	if r.code != 0 {
		t.Fatalf("clientele %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

var trackingLine = regexp.MustCompile(`(?m)^  trackingId: [0-9a-f]{32}$`)

func TestCLIClients(t *testing.T) {
	s := cliServer(t)

	// create from flags, as JSON: the secret is shown this once.
	var created struct{ ID, Secret, Name string }
	out := mustCLI(t, s, "", "clients", "create", "-o", "json", "--name", "Acme CI", "--tenant", "acme",
		"--grant-type", "CLIENT_CREDENTIALS", "--scope", "sp:oauth-client:read")
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created.ID) != 32 || len(created.Secret) != 64 {
		t.Fatalf("create -o json: %v\n%s", err, out)
	}

	// create from a body on standard input, as a table with the secret.
	out = mustCLI(t, s, `{"name":"Acme Web","grantTypes":["AUTHORIZATION_CODE"],"redirectUris":["https://acme.example/cb"]}`,
		"clients", "create", "-f", "-")
	if !strings.Contains(out, "SECRET") || !regexp.MustCompile(`Acme Web\s+CONFIDENTIAL\s+true\s+AUTHORIZATION_CODE\s+-\s+[0-9a-f]{64}`).MatchString(out) {
		t.Errorf("create table:\n%s", out)
	}

	// list: both clients and the admin, in a table and as JSON.
	out = mustCLI(t, s, "", "clients", "list")
	for _, want := range []string{"ID", "NAME", testAdminID, created.ID + "  Acme CI", "Acme Web"} {
		if !strings.Contains(out, want) {
			t.Errorf("list table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("list shows a secret column:\n%s", out)
	}
	var listed []map[string]any
	out = mustCLI(t, s, "", "clients", "list", "-o", "json", "--filters", `tenant eq "acme"`)
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0]["id"] != created.ID {
		t.Errorf("list --filters -o json: %v\n%s", err, out)
	}
	out = mustCLI(t, s, "", "clients", "list", "-o", "json", "--limit", "2", "--sorters", "-name")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 2 || listed[0]["id"] != testAdminID || listed[1]["name"] != "Acme Web" {
		t.Errorf("list --limit 2 --sorters -name: %v\n%s", err, out)
	}

	// patch from standard input, then from a file; get shows the result.
	mustCLI(t, s, `[{"op":"replace","path":"/enabled","value":false}]`, "clients", "patch", created.ID)
	file := filepath.Join(t.TempDir(), "patch.json")
	if err := os.WriteFile(file, []byte(`[{"op":"add","path":"/redirectUris/-","value":"https://ci.acme.example/cb"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, s, "", "clients", "patch", created.ID, "-f", file, "-o", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, s, "", "clients", "get", created.ID, "-o", "json")), &got); err != nil ||
		got["enabled"] != false || len(got["redirectUris"].([]any)) != 1 {
		t.Errorf("get after patches: %v %v", err, got)
	}
	if out := mustCLI(t, s, "", "clients", "get", created.ID); !strings.Contains(out, "Acme CI") || !strings.Contains(out, "false") {
		t.Errorf("get table:\n%s", out)
	}

	// A refused patch prints the envelope: detailCode, causes, trackingId.
	r := runCLI(t, s, `[{"op":"replace","path":"/redirectUris/0","value":"http://evil.example/cb"}]`, "clients", "patch", created.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "400.1.3 Illegal value") || !strings.Contains(r.stderr, "  cause: redirectUris") ||
		!trackingLine.MatchString(r.stderr) || r.stdout != "" {
		t.Errorf("refused patch: exit %d\nstdout %q\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// A stale If-Match is 412.
	r = runCLI(t, s, `[]`, "clients", "patch", created.ID, "--if-match", `"stale"`)
	if r.code != 1 || !strings.Contains(r.stderr, "412 Precondition Failed") {
		t.Errorf("stale If-Match: exit %d\n%s", r.code, r.stderr)
	}

	// rotate gives a new secret that authenticates; the old one stops.
	var rotated struct{ Secret string }
	if err := json.Unmarshal([]byte(mustCLI(t, s, "", "clients", "rotate", created.ID, "-o", "json")), &rotated); err != nil ||
		len(rotated.Secret) != 64 || rotated.Secret == created.Secret {
		t.Fatalf("rotate: %v %q", err, rotated.Secret)
	}

	// delete, then get is a 404 envelope.
	if out := mustCLI(t, s, "", "clients", "delete", created.ID); out != "deleted "+created.ID+"\n" {
		t.Errorf("delete printed %q", out)
	}
	r = runCLI(t, s, "", "clients", "get", created.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "404 Not found") || !trackingLine.MatchString(r.stderr) {
		t.Errorf("get deleted: exit %d\n%s", r.code, r.stderr)
	}
}

func TestCLIRefusals(t *testing.T) {
	s := cliServer(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"bad output", "", []string{"clients", "list", "-o", "yaml"}, `-o "yaml": want table or json`},
		{"missing id", "", []string{"clients", "get"}, "accepts 1 arg"},
		{"unknown subcommand", "", []string{"clients", "frobnicate"}, "unknown command"},
		{"create without anything", "", []string{"clients", "create"}, "nothing to create"},
		{"create, server refuses", "", []string{"clients", "create", "--name", "x"}, "400.1.0"},
		{"patch not JSON", "nope", []string{"clients", "patch", testAdminID}, "400.0 Bad request syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, s, tt.stdin, tt.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tt.want)
			}
		})
	}

	// Wrong credentials: the token endpoint's refusal, one exit status.
	var stderr bytes.Buffer
	env := map[string]string{"CLIENTELE_URL": s.base, "CLIENTELE_CLIENT_ID": testAdminID}
	code := cli.Main(context.Background(), []string{"clients", "list", "--client-secret", "wrong-secret-wrong-secret-wrong-secret"},
		cli.Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "invalid_client") {
		t.Errorf("wrong secret: exit %d\n%s", code, stderr.String())
	}
	// No credentials at all.
	stderr.Reset()
	code = cli.Main(context.Background(), []string{"clients", "list"},
		cli.Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "no credentials") {
		t.Errorf("no credentials: exit %d\n%s", code, stderr.String())
	}
}

// TestCLIHelpEverywhere asks every command for --help.
func TestCLIHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"help"}, {"clients", "--help"}, {"clients", "list", "--help"}, {"clients", "get", "--help"},
		{"clients", "create", "--help"}, {"clients", "patch", "--help"}, {"clients", "delete", "--help"},
		{"clients", "rotate", "--help"}, {"export", "--help"}, {"apply", "--help"},
	} {
		var stdout, stderr bytes.Buffer
		code := cli.Main(context.Background(), args, cli.Env{Getenv: func(string) string { return "" },
			Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != 0 || !strings.Contains(stdout.String(), "Usage:") || stderr.Len() != 0 {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestServeSubcommand: `clientele serve` is `clientele`.
func TestServeSubcommand(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--db", "sqlite://:memory:"}, func(string) string { return "" }, &syncBuffer{}, &syncBuffer{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatal("clientele serve did not become ready")
}

// TestBinaryDispatch runs the built binary: a subcommand is the command
// line, anything else the server (startProc starts it with flags only).
func TestBinaryDispatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := startProc(t, "sqlite://"+filepath.Join(t.TempDir(), "d.db"))
	cmd := exec.Command(clienteleBinary(t), "clients", "list", "-o", "json")
	cmd.Env = append(os.Environ(), "CLIENTELE_URL="+p.base, "CLIENTELE_CLIENT_ID="+testAdminID, "CLIENTELE_CLIENT_SECRET="+testAdminSecret)
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"id": "`+testAdminID+`"`) {
		t.Errorf("clientele clients list: %v\n%s", err, out)
	}
	cmd = exec.Command(clienteleBinary(t), "clients", "get", "nope")
	cmd.Env = append(os.Environ(), "CLIENTELE_URL="+p.base, "CLIENTELE_CLIENT_ID="+testAdminID, "CLIENTELE_CLIENT_SECRET="+testAdminSecret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "404 Not found") {
		t.Errorf("clientele clients get nope: %v\n%s", err, stderr.String())
	}
}
