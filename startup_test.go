package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBannerCurlUsesTheListenAddress starts on port 0 with an issuer that
// is not this server, and expects the printed curl line to fetch a token
// from the port the server really took.
func TestBannerCurlUsesTheListenAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--db", "sqlite://:memory:", "--issuer", "https://clientele.example.com"},
			func(string) string { return "" }, &syncBuffer{}, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	listening := regexp.MustCompile(`listening on (http://\S+) `)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" || strings.HasSuffix(base, ":0") {
		t.Fatalf("no listen address with a real port on stderr:\n%s", stderr)
	}
	m := adminLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin credentials on stderr:\n%s", stderr)
	}
	curl := "curl -s -u '" + m[1] + ":" + m[2] + "' -d grant_type=client_credentials " + base + "/oauth/token"
	if !strings.Contains(stderr.String(), curl) {
		t.Fatalf("stderr lacks %q:\n%s", curl, stderr)
	}
	s := &server{base: base}
	if tok := s.token(t, m[1], m[2]); tok == "" {
		t.Error("the curl line's address gave no token")
	}
}

// TestUnwritableSQLiteDirectory expects a SQLite path in a directory the
// process may not write to be refused with "permission denied". As root,
// permissions do not bite, so the binary then runs as nobody via runuser.
func TestUnwritableSQLiteDirectory(t *testing.T) {
	dir, err := os.MkdirTemp("", "clientele-locked-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	dbURL := "sqlite://" + filepath.Join(dir, "c.db")
	var out string
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--db", dbURL}, func(string) string { return "" }, &bytes.Buffer{}, &stderr)
		if err == nil {
			t.Fatal("run succeeded on a directory it may not write")
		}
		out = err.Error()
	} else {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("running as root without runuser: no unprivileged user to show the permission error")
		}
		if exec.Command("id", "-u", "nobody").Run() != nil {
			t.Skip("running as root without a nobody user: no unprivileged user to show the permission error")
		}
		bin := clienteleBinary(t)
		// nobody may enter both directories and write neither.
		for _, d := range []string{dir, filepath.Dir(bin)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, runuser, "-u", "nobody", "--", bin, "--addr", "127.0.0.1:0", "--db", dbURL)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.Dir = "/"
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("as nobody: %v, want exit status 1\n%s", err, b)
		}
		out = string(b)
	}
	if !strings.Contains(out, "permission denied") || strings.Contains(out, "no such file") {
		t.Errorf("got %q, want it to say permission denied", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d files behind in %s", len(entries), dir)
	}
}

func TestMissingSQLiteDirectory(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "absent", "c.db")
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--db", dbURL}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "absent does not exist") {
		t.Errorf("got %v, want the missing directory named", err)
	}
}
