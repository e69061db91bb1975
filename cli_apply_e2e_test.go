package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientele/clientele/cli"
	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/models"
)

// runCLIAt runs one command line against base as the admin.
func runCLIAt(base, stdin string, args ...string) cliResult {
	env := map[string]string{"CLIENTELE_URL": base, "CLIENTELE_CLIENT_ID": testAdminID, "CLIENTELE_CLIENT_SECRET": testAdminSecret}
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
	})
	return cliResult{stdout.String(), stderr.String(), code}
}

// createVia creates a client through the command line and returns its id.
func createVia(t *testing.T, s *server, body string) string {
	t.Helper()
	var c struct{ ID string }
	if err := json.Unmarshal([]byte(mustCLI(t, s, body, "clients", "create", "-f", "-", "-o", "json")), &c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// getVia returns a client through the command line.
func getVia(t *testing.T, s *server, id string) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, s, "", "clients", "get", id, "-o", "json")), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// editClient rewrites the block of client id in an exported file, the way
// a person edits it; edit returning "" drops the client.
func editClient(t *testing.T, text, id string, edit func(block string) string) string {
	t.Helper()
	start := strings.Index(text, "  - id: "+id+"\n")
	if start < 0 {
		t.Fatalf("no client %s in\n%s", id, text)
	}
	end := strings.Index(text[start+1:], "\n  - ")
	if end < 0 {
		end = len(text)
	} else {
		end += start + 2
	}
	return text[:start] + edit(text[start:end]) + text[end:]
}

func replaceIn(t *testing.T, block, old, new string) string {
	t.Helper()
	if !strings.Contains(block, old) {
		t.Fatalf("%q not in\n%s", old, block)
	}
	return strings.Replace(block, old, new, 1)
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCLIExportApplyPlans(t *testing.T) {
	s := cliServer(t)
	a := createVia(t, s, `{"name":"A","grantTypes":["AUTHORIZATION_CODE"],"redirectUris":["https://a.example/cb"]}`)
	b := createVia(t, s, `{"name":"B","grantTypes":["CLIENT_CREDENTIALS"],"tenant":"acme"}`)
	c := createVia(t, s, `{"name":"C","grantTypes":["CLIENT_CREDENTIALS"]}`)
	dir := t.TempDir()
	file := filepath.Join(dir, "clients.yaml")
	mustCLI(t, s, "", "export", "-f", file)
	exported, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(exported), "secret:") || !strings.Contains(string(exported), "  - id: "+a+"\n") {
		t.Fatalf("export:\n%s", exported)
	}
	if out := mustCLI(t, s, "", "export"); out != string(exported) {
		t.Errorf("export to stdout differs from -f:\n%s", out)
	}

	// Export then apply: nothing to do.
	if out := mustCLI(t, s, "", "apply", "-f", file); out != "Plan: 0 to create, 0 to patch, 0 to delete, 4 unchanged.\n" {
		t.Errorf("apply of the export:\n%s", out)
	}

	// A redirect URI changed, B disabled, a new client, C removed.
	text := editClient(t, string(exported), a, func(blk string) string {
		return replaceIn(t, blk, "['https://a.example/cb']", "['https://a.example/callback']")
	})
	text = editClient(t, text, b, func(blk string) string { return replaceIn(t, blk, "enabled: true", "enabled: false") })
	text = editClient(t, text, c, func(string) string { return "" })
	text += "  - name: New App\n    grantTypes: [CLIENT_CREDENTIALS]\n    tenant: acme\n"
	writeFile(t, file, text)
	wantPlan := `+ create "New App"
    {"name":"New App","tenant":"acme","grantTypes":["CLIENT_CREDENTIALS"]}
~ patch ` + a + ` "A"
    {"op":"replace","path":"/redirectUris","value":["https://a.example/callback"]}
~ patch ` + b + ` "B"
    {"op":"replace","path":"/enabled","value":false}
  keep ` + c + ` "C": not in the file (--prune deletes it)
Plan: 1 to create, 2 to patch, 0 to delete, 1 unchanged, 1 not in the file, kept.
`
	if out := mustCLI(t, s, "", "apply", "-f", file, "--dry-run"); out != wantPlan {
		t.Errorf("dry-run plan:\n%s\nwant:\n%s", out, wantPlan)
	}
	if getVia(t, s, b)["enabled"] != true {
		t.Fatal("--dry-run changed B")
	}

	// A create needs somewhere to put the secret; without it nothing happens.
	r := runCLI(t, s, "", "apply", "-f", file)
	if r.code != 1 || !strings.Contains(r.stderr, "--secrets-out") || getVia(t, s, b)["enabled"] != true {
		t.Fatalf("apply without --secrets-out: exit %d\n%s", r.code, r.stderr)
	}

	secrets := filepath.Join(dir, "secrets.yaml")
	if out := mustCLI(t, s, "", "apply", "-f", file, "--secrets-out", secrets); out != wantPlan+"Applied: 1 created, 2 patched, 0 deleted.\n" {
		t.Errorf("apply:\n%s", out)
	}
	if got := getVia(t, s, a)["redirectUris"].([]any); len(got) != 1 || got[0] != "https://a.example/callback" {
		t.Errorf("A's redirect URIs %v", got)
	}
	if getVia(t, s, b)["enabled"] != false || getVia(t, s, c)["name"] != "C" {
		t.Error("B not disabled, or C gone without --prune")
	}
	info, err := os.Stat(secrets)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", err, info)
	}
	sec, _ := os.ReadFile(secrets)
	m := regexp.MustCompile(`(?m)^- id: ([0-9a-f]{32})\n  name: New App\n  secret: ([0-9a-f]{64})\n$`).FindSubmatch(sec)
	if m == nil {
		t.Fatalf("secrets file:\n%s", sec)
	}
	s.token(t, string(m[1]), string(m[2])) // the written secret authenticates
	if getVia(t, s, string(m[1]))["tenant"] != "acme" {
		t.Error("New App was not created as the file says")
	}

	// The same apply again: nothing to do; the new client is found by name.
	keepC := `  keep ` + c + ` "C": not in the file (--prune deletes it)` + "\n"
	if out := mustCLI(t, s, "", "apply", "-f", file, "--secrets-out", secrets); out != keepC+"Plan: 0 to create, 0 to patch, 0 to delete, 4 unchanged, 1 not in the file, kept.\n" {
		t.Errorf("second apply:\n%s", out)
	}

	// --prune deletes C, once.
	wantPrune := `- delete ` + c + ` "C"` + "\nPlan: 0 to create, 0 to patch, 1 to delete, 4 unchanged.\n"
	if out := mustCLI(t, s, "", "apply", "-f", file, "--prune", "--dry-run"); out != wantPrune {
		t.Errorf("prune plan:\n%s", out)
	}
	if out := mustCLI(t, s, "", "apply", "-f", file, "--prune"); out != wantPrune+"Applied: 0 created, 0 patched, 1 deleted.\n" {
		t.Errorf("prune:\n%s", out)
	}
	if r := runCLI(t, s, "", "clients", "get", c); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("C after prune: %d %s", r.code, r.stderr)
	}
	if out := mustCLI(t, s, "", "apply", "-f", file, "--prune"); out != "Plan: 0 to create, 0 to patch, 0 to delete, 4 unchanged.\n" {
		t.Errorf("prune again:\n%s", out)
	}

	// --prune never deletes the client the command authenticates as.
	noAdmin := editClient(t, text, testAdminID, func(string) string { return "" })
	writeFile(t, file, noAdmin)
	if out := mustCLI(t, s, "", "apply", "-f", file, "--prune", "--dry-run"); !strings.Contains(out, `  keep `+testAdminID+` "Clientele admin": not in the file (kept: this command authenticates as it)`) {
		t.Errorf("prune without the admin:\n%s", out)
	}

	// A member set only at creation cannot change: the file's line says so.
	scoped := editClient(t, text, b, func(blk string) string {
		return replaceIn(t, blk, "scope: ['sp:scopes:default']", "scope: ['sp:oauth-client:read']")
	})
	writeFile(t, file, scoped)
	line := strings.Count(scoped[:strings.Index(scoped, "scope: ['sp:oauth-client:read']")], "\n") + 1
	r = runCLI(t, s, "", "apply", "-f", file)
	if want := fmt.Sprintf("%s:%d: client %s: scope is set only when a client is created", file, line, b); r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("scope change: exit %d\n%s\nwant %s", r.code, r.stderr, want)
	}
}

func TestCLIApplyFileProblems(t *testing.T) {
	s := cliServer(t)
	dir := t.TempDir()
	for _, tt := range []struct{ name, text, want string }{
		{"bad YAML", "clients:\n  - name: a\n    grantTypes: [X\n  - name: b\n", "bad.yaml:4:3: ',' or ']' must be specified"},
		{"unknown member", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    redirectUri: [https://x]\n", `bad.yaml:4: clients[0]: unknown member "redirectUri"`},
		{"wrong type", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    enabled: maybe\n", `bad.yaml:4: clients[0].enabled: want a boolean, got "maybe"`},
		{"unknown id", "clients:\n  - id: 00000000000000000000000000000000\n    name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n", "bad.yaml:2: client 00000000000000000000000000000000 does not exist on the server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "bad.yaml")
			writeFile(t, file, tt.text)
			r := runCLI(t, s, "", "apply", "-f", file, "--secrets-out", filepath.Join(dir, "s.yaml"))
			if r.code != 1 || !strings.Contains(r.stderr, file[:len(file)-len("bad.yaml")]+tt.want) || !strings.Contains(r.stderr, "nothing was changed") || r.stdout != "" {
				t.Errorf("exit %d\nstdout %q\nstderr %s\nwant %s", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
	r := runCLI(t, s, "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    enabled: 1\n", "apply", "-f", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "<stdin>:4: clients[0].enabled: want a boolean, got int 1") {
		t.Errorf("from standard input: exit %d\n%s", r.code, r.stderr)
	}
	var listed []any
	if err := json.Unmarshal([]byte(mustCLI(t, s, "", "clients", "list", "-o", "json")), &listed); err != nil || len(listed) != 1 {
		t.Errorf("a refused file changed the server: %v %d", err, len(listed))
	}
}

// TestCLIApplyConcurrentChange changes a client between the plan and its
// patch (a proxy does it just before forwarding the patch): apply reports
// the 412 and leaves the other change in place.
func TestCLIApplyConcurrentChange(t *testing.T) {
	s := cliServer(t)
	a := createVia(t, s, `{"name":"A","grantTypes":["CLIENT_CREDENTIALS"]}`)
	b := createVia(t, s, `{"name":"B","grantTypes":["CLIENT_CREDENTIALS"]}`)
	file := filepath.Join(t.TempDir(), "clients.yaml")
	mustCLI(t, s, "", "export", "-f", file)
	text, _ := os.ReadFile(file)
	edited := string(text)
	for _, id := range []string{a, b} {
		edited = editClient(t, edited, id, func(blk string) string { return replaceIn(t, blk, "description: null", "description: from the file") })
	}
	writeFile(t, file, edited)

	target, _ := url.Parse(s.base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	tok := s.token(t, testAdminID, testAdminSecret)
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/"+a) {
			once.Do(func() {
				resp, body := s.call(t, tok, http.MethodPatch, "/oauth-clients/"+a, "application/json-patch+json",
					`[{"op":"replace","path":"/description","value":"changed meanwhile"}]`)
				if resp.StatusCode != 200 {
					t.Errorf("concurrent patch: %d %s", resp.StatusCode, body)
				}
			})
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	r := runCLIAt(front.URL, "", "apply", "-f", file)
	if r.code != 1 || !strings.Contains(r.stderr, "~ patch "+a+` "A": changed on the server since the plan (412); not applied`) ||
		strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "applying") ||
		!strings.Contains(r.stderr, "1 of 2 changes failed") {
		t.Errorf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if got := getVia(t, s, a)["description"]; got != "changed meanwhile" {
		t.Errorf("A's concurrent change was overwritten: %v", got)
	}
	if got := getVia(t, s, b)["description"]; got != "from the file" {
		t.Errorf("B was not patched: %v", got)
	}
	// Applying again plans anew from what the server now holds.
	if out := mustCLI(t, s, "", "apply", "-f", file, "--dry-run"); !strings.Contains(out, `{"op":"replace","path":"/description","value":"from the file"}`) ||
		!strings.Contains(out, "Plan: 0 to create, 1 to patch") {
		t.Errorf("re-plan:\n%s", out)
	}
}

// seedClients writes n clients straight into the store at path, before a
// server opens it: much faster than n API calls.
func seedClients(tb testing.TB, path string, n int) {
	tb.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://"+path)
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	for i := 0; i < n; i++ {
		c := models.NewClient()
		var id [16]byte
		_, _ = rand.Read(id[:])
		c.ID = hex.EncodeToString(id[:])
		c.Name = fmt.Sprintf("seed %05d", i)
		c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
		c.RedirectURIs = []string{fmt.Sprintf("https://app%d.example/cb", i)}
		c.Secrets = []models.Secret{{ID: c.ID, Hash: id[:], Created: time.Now().UTC().Truncate(time.Millisecond)}}
		if _, err := store.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestCLIExportApplyTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000 clients")
	}
	path := filepath.Join(t.TempDir(), "big.db")
	t0 := time.Now()
	seedClients(t, path, 10000)
	t.Logf("seeded in %v", time.Since(t0))
	s := startServer(t, map[string]string{
		"CLIENTELE_ADMIN_CLIENT_ID": testAdminID, "CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
		"CLIENTELE_DB": "sqlite://" + path, "CLIENTELE_RATE_LIMIT": "0",
	})
	file := filepath.Join(t.TempDir(), "clients.yaml")
	t0 = time.Now()
	mustCLI(t, s, "", "export", "-f", file)
	t.Logf("exported in %v", time.Since(t0))
	t0 = time.Now()
	if out := mustCLI(t, s, "", "apply", "-f", file); out != "Plan: 0 to create, 0 to patch, 0 to delete, 10001 unchanged.\n" {
		t.Errorf("apply of the export of 10 000 clients:\n%s", out)
	}
}

// BenchmarkCLIApply10000 times one apply of a file of 10 000 clients against
// a server on loopback (SQLite file store): the no-op apply of an export,
// creating all of them, and patching every one. Run it with
// go test -run '^$' -bench CLIApply -benchtime 1x .
func BenchmarkCLIApply10000(b *testing.B) {
	const n = 10000
	start := func(b *testing.B, seed int) (*server, string) {
		path := filepath.Join(b.TempDir(), "bench.db")
		seedClients(b, path, seed)
		s := startServer(b, map[string]string{
			"CLIENTELE_ADMIN_CLIENT_ID": testAdminID, "CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
			"CLIENTELE_DB": "sqlite://" + path, "CLIENTELE_RATE_LIMIT": "0", "CLIENTELE_LOG_LEVEL": "warn",
		})
		file := filepath.Join(b.TempDir(), "clients.yaml")
		if r := runCLIAt(s.base, "", "export", "-f", file); r.code != 0 {
			b.Fatal(r.stderr)
		}
		return s, file
	}
	apply := func(b *testing.B, s *server, file, want string, args ...string) {
		r := runCLIAt(s.base, "", append([]string{"apply", "-f", file}, args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			b.Fatalf("exit %d\n%s\n%.500s", r.code, r.stderr, r.stdout)
		}
	}
	b.Run("noop", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s, file := start(b, n)
			b.StartTimer()
			apply(b, s, file, "Plan: 0 to create, 0 to patch, 0 to delete, 10001 unchanged.")
			b.StopTimer()
			_ = s.stop()
		}
	})
	b.Run("create", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s, file := start(b, 0)
			var text strings.Builder
			text.WriteString("clients:\n")
			for j := 0; j < n; j++ {
				fmt.Fprintf(&text, "  - name: bench %05d\n    grantTypes: [CLIENT_CREDENTIALS]\n    redirectUris: ['https://app%d.example/cb']\n", j, j)
			}
			writeFile(b, file, text.String())
			b.StartTimer()
			apply(b, s, file, "Applied: 10000 created, 0 patched, 0 deleted.", "--secrets-out", filepath.Join(b.TempDir(), "secrets.yaml"))
			b.StopTimer()
			_ = s.stop()
		}
	})
	b.Run("patch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s, file := start(b, n)
			text, _ := os.ReadFile(file)
			writeFile(b, file, strings.ReplaceAll(string(text), "description: null", "description: benched"))
			b.StartTimer()
			apply(b, s, file, "Applied: 0 created, 10001 patched, 0 deleted.")
			b.StopTimer()
			_ = s.stop()
		}
	})
}
