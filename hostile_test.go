package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHostileHTTP sends what an attacker would and expects a clear 4xx in
// the envelope each time, a healthy server after, and bounded memory.
func TestHostileHTTP(t *testing.T) {
	p := startProc(t, "sqlite://"+filepath.Join(t.TempDir(), "hostile.db"))
	c := p.client()
	id, _ := c.create("target")
	patchPath := "/oauth-clients/" + id

	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObject := `{"name":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `,"grantTypes":["CLIENT_CREDENTIALS"]}`
	tests := []struct {
		name, method, path, ct, body string
		status                       int
		code                         string
	}{
		{"10 MiB create", http.MethodPost, "/oauth-clients", "application/json", `{"name":"` + strings.Repeat("x", 10<<20) + `"}`, 413, "413 Payload Too Large"},
		{"10 MiB patch", http.MethodPatch, patchPath, "application/json-patch+json", strings.Repeat(" ", 10<<20) + "[]", 413, "413 Payload Too Large"},
		{"nested 10000 deep, create", http.MethodPost, "/oauth-clients", "application/json", deep, 400, "400.0 Bad request syntax"},
		// The member is read on its own and is not a string.
		{"nested 10000 deep member", http.MethodPost, "/oauth-clients", "application/json", deepObject, 400, "400.1.3 Illegal value"},
		// SPEC §4.3: past 32 levels anywhere in a PATCH body, found while reading.
		{"nested 10000 deep, patch", http.MethodPatch, patchPath, "application/json-patch+json", deep, 400, "400.1.4 Limit violation"},
		{"nested value in a patch", http.MethodPatch, patchPath, "application/json-patch+json",
			`[{"op":"replace","path":"/description","value":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}]`, 400, "400.1.4 Limit violation"},
		{"merge patch nested 8000 deep", http.MethodPatch, patchPath, "application/merge-patch+json",
			`{"description":` + strings.Repeat(`{"a":`, 8000) + `null` + strings.Repeat(`}`, 8000) + `}`, 400, "400.1.4 Limit violation"},
		{"invalid UTF-8", http.MethodPost, "/oauth-clients", "application/json", "{\"name\":\"a\xff\xfeb\",\"grantTypes\":[\"CLIENT_CREDENTIALS\"]}", 400, "400.0 Bad request syntax"},
		{"invalid UTF-8 in a patch", http.MethodPatch, patchPath, "application/merge-patch+json", "{\"name\":\"\xc3\x28\"}", 400, "400.0 Bad request syntax"},
		{"NUL in a string", http.MethodPost, "/oauth-clients", "application/json", `{"name":"a\u0000b","grantTypes":["CLIENT_CREDENTIALS"]}`, 400, "400.1.3 Illegal value"},
		{"NUL in a patch", http.MethodPatch, patchPath, "application/json-patch+json", `[{"op":"replace","path":"/description","value":"x\u0000"}]`, 400, "400.1.3 Illegal value"},
		{"100 KiB query string", http.MethodGet, "/oauth-clients?filters=" + strings.Repeat("a", 100<<10), "", "", 400, "400.1.4 Limit violation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.do(tt.method, tt.path, tt.ct, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				DetailCode string `json:"detailCode"`
				TrackingID string `json:"trackingId"`
			}
			if err := json.Unmarshal(r.body, &env); err != nil || r.status != tt.status || env.DetailCode != tt.code || env.TrackingID == "" {
				t.Errorf("status %d, body %.300s; want %d %q", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	if r := c.must(http.MethodGet, patchPath, "", "", 200); r.object()["name"] != "target" {
		t.Errorf("the target changed: %s", r.body)
	}

	t.Run("flood of unknown ids", func(t *testing.T) {
		for i := 0; i < 2000; i++ {
			r, err := c.do(http.MethodGet, fmt.Sprintf("/oauth-clients/%032x", i+1<<40), "", "")
			if err != nil || r.status != 404 {
				t.Fatalf("unknown id %d: %v %d", i, err, r.status)
			}
		}
	})

	t.Run("headers beyond the limit", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, p.base+"/healthz", nil)
		req.Header.Set("X-Junk", strings.Repeat("j", 300<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})

	t.Run("slow headers are cut off", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		// Send a header line a byte at a time, never finishing; the server
		// must close the connection on its own.
		closed := false
		line := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 200)
		for i := 0; i < len(line) && time.Since(start) < 20*time.Second; i++ {
			if _, err := conn.Write([]byte{line[i]}); err != nil {
				closed = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !closed {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				closed = resp.StatusCode >= 400
			} else {
				closed = true
			}
		}
		if !closed || time.Since(start) > 15*time.Second {
			t.Errorf("a slow-header client was not cut off (closed %v after %v)", closed, time.Since(start))
		}
	})

	c.must(http.MethodGet, "/healthz", "", "", 200)
	if kb := p.peakRSS(); kb > 200<<10 {
		t.Errorf("peak RSS %d KiB, bound 200 MiB", kb)
	} else {
		t.Logf("peak RSS %d KiB", kb)
	}
}

// TestSecretsStaySecret runs a whole flow against a process and looks for
// every secret it creates in every response body, header and log line: a
// secret may appear only in the answers of create and rotation (and the
// admin's, given by the operator, nowhere at all).
func TestSecretsStaySecret(t *testing.T) {
	p := startProc(t, "sqlite://"+filepath.Join(t.TempDir(), "secrets.db"))
	c := p.client()
	secrets := []string{testAdminSecret}
	var seen []string // everything the server said, except where secrets belong
	record := func(r reply) {
		var b strings.Builder
		for k, vs := range r.header {
			b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		b.Write(r.body)
		seen = append(seen, b.String())
	}
	call := func(method, path, ct, body string) reply {
		r, err := c.do(method, path, ct, body)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	secretOf := func(r reply) string {
		s, _ := r.object()["secret"].(string)
		if s == "" {
			t.Fatalf("no secret in %s", r.body)
		}
		return s
	}
	created := call(http.MethodPost, "/oauth-clients", "application/json", `{"name":"secretive","grantTypes":["CLIENT_CREDENTIALS"],"scope":["sp:oauth-client:read"]}`)
	secrets = append(secrets, secretOf(created))
	id := created.object()["id"].(string)
	rotated := call(http.MethodPost, "/oauth-clients/"+id+"/secret", "", "")
	secrets = append(secrets, secretOf(rotated))
	userTok := c.fetchToken(id, secrets[2])
	user := &client{t: t, base: p.base, token: userTok, hc: http.DefaultClient}
	for _, r := range []reply{
		call(http.MethodGet, "/oauth-clients/"+id, "", ""),
		call(http.MethodGet, "/oauth-clients?count=true", "", ""),
		call(http.MethodPatch, "/oauth-clients/"+id, "application/json-patch+json", `[{"op":"copy","from":"/secret","path":"/description"}]`),
		call(http.MethodPatch, "/oauth-clients/"+id, "application/json-patch+json", `[{"op":"test","path":"/secret","value":"`+secrets[2]+`"}]`),
		call(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"secret":"`+secrets[2]+`"}`),
		call(http.MethodPut, "/oauth-clients/"+id, "application/json", `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"secret":"`+secrets[2]+`"}`),
		call(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"description":"plain"}`),
		call(http.MethodGet, "/oauth-clients?filters="+strings.ReplaceAll(`secret eq "`+secrets[2]+`"`, " ", "%20"), "", ""),
	} {
		record(r)
	}
	for _, form := range []string{
		"grant_type=client_credentials&client_id=" + id + "&client_secret=" + secrets[1], // the old secret
		"grant_type=client_credentials&client_id=" + id + "&client_secret=" + secrets[2] + "x",
		"grant_type=password&client_id=" + id + "&client_secret=" + secrets[2],
	} {
		record(call(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", form))
	}
	r, _ := user.do(http.MethodGet, "/oauth-clients/"+id, "", "")
	record(r)
	record(call(http.MethodDelete, "/oauth-clients/"+id, "", ""))

	// Stop the server so that every log line is written.
	p.kill()
	seen = append(seen, p.stdout.String(), p.stderr.String())
	tokenLike := regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	for i, s := range seen {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("a secret appears in output %d: %.200s", i, s)
			}
		}
		if i >= len(seen)-2 && tokenLike.MatchString(s) {
			t.Errorf("a token appears in the server's output")
		}
	}
	// The create and rotation answers are the only places a secret shows.
	if !strings.Contains(string(created.body), secrets[1]) || !strings.Contains(string(rotated.body), secrets[2]) {
		t.Error("create and rotation must show their secret")
	}
}
