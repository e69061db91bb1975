package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// loopbackClient is an HTTP client whose connections come from ip, an
// address of the loopback network 127.0.0.0/8.
func loopbackClient(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// tokenStatus asks base for a token as id with secret and returns the
// status and the Retry-After header; forwardedFor, when set, is sent as
// X-Forwarded-For.
func tokenStatus(t *testing.T, c *http.Client, base, id, secret, forwardedFor string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestAuthFailuresBehindAReverseProxy runs a real reverse proxy on
// loopback: it reaches Clientele from 127.0.0.2, the one trusted proxy, and
// adds the caller's address to X-Forwarded-For as proxies do. Callers
// reach the proxy from 127.0.0.3 and 127.0.0.4.
func TestAuthFailuresBehindAReverseProxy(t *testing.T) {
	const adminID = "ops-admin"
	adminSecret := strings.Repeat("pr0xy", 8)
	s := startServer(t, map[string]string{
		"CLIENTELE_ADMIN_CLIENT_ID":     adminID,
		"CLIENTELE_ADMIN_CLIENT_SECRET": adminSecret,
		"CLIENTELE_DB":                  "sqlite://" + filepath.Join(t.TempDir(), "c.db"),
	}, "--trusted-proxies", "127.0.0.2", "--auth-failure-limit", "3/1m")

	// A second client, to show that failures for one id lock out no other.
	resp, body := s.call(t, s.token(t, adminID, adminSecret), http.MethodPost, "/oauth-clients", "application/json",
		`{"name":"second","grantTypes":["CLIENT_CREDENTIALS"]}`)
	var second struct{ ID, Secret string }
	if err := json.Unmarshal(body, &second); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating a second client: %d %s", resp.StatusCode, body)
	}

	target, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = loopbackClient("127.0.0.2").Transport
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: rp}
	go func() { _ = proxy.Serve(ln) }()
	t.Cleanup(func() { _ = proxy.Shutdown(context.Background()) })
	viaProxy := "http://" + ln.Addr().String()
	a, b := loopbackClient("127.0.0.3"), loopbackClient("127.0.0.4")

	for i := 0; i < 3; i++ {
		if code, _ := tokenStatus(t, a, viaProxy, adminID, "wrong", ""); code != http.StatusUnauthorized {
			t.Fatalf("bad attempt %d: %d, want 401", i+1, code)
		}
	}
	steps := []struct {
		name             string
		client           *http.Client
		base, id, secret string
		forwardedFor     string
		want             int
	}{
		{"the locked pair, with the right secret", a, viaProxy, adminID, adminSecret, "", http.StatusTooManyRequests},
		// The proxy appends 127.0.0.3 to the forged header; the last
		// address outside the trusted proxies is still the caller's.
		{"the locked pair, forging X-Forwarded-For", a, viaProxy, adminID, adminSecret, "198.51.100.9", http.StatusTooManyRequests},
		{"the same client from another caller behind the proxy", b, viaProxy, adminID, adminSecret, "", http.StatusOK},
		{"another client from the locked caller", a, viaProxy, second.ID, second.Secret, "", http.StatusOK},
		// A peer that is not a trusted proxy is not believed about anyone.
		{"the locked caller directly, claiming another address", a, s.base, adminID, adminSecret, "127.0.0.4", http.StatusTooManyRequests},
	}
	for _, st := range steps {
		code, retry := tokenStatus(t, st.client, st.base, st.id, st.secret, st.forwardedFor)
		if code != st.want {
			t.Errorf("%s: %d, want %d", st.name, code, st.want)
		}
		if code == http.StatusTooManyRequests && retry == "" {
			t.Errorf("%s: 429 without Retry-After", st.name)
		}
	}
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{" 10.0.0.0/8 , 192.0.2.1,::1, 2001:db8::/32 ", []string{"10.0.0.0/8", "192.0.2.1/32", "::1/128", "2001:db8::/32"}, false},
		{"10.0.0.0/33", nil, true},
		{"proxy.example", nil, true},
		{"10.0.0.0/8,nope", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCIDRs(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("parseCIDRs(%q) error %v, want error %v", tt.in, err, tt.bad)
			continue
		}
		var gotS []string
		for _, n := range got {
			gotS = append(gotS, n.String())
		}
		if strings.Join(gotS, " ") != strings.Join(tt.want, " ") {
			t.Errorf("parseCIDRs(%q) = %q, want %q", tt.in, gotS, tt.want)
		}
	}
}

func TestRunRefusesBadProxyAndFailureSettings(t *testing.T) {
	for _, args := range [][]string{
		{"--trusted-proxies", "10.0.0.0/33"},
		{"--auth-failure-limit", "many"},
	} {
		full := append([]string{"--addr", freeAddr(t), "--db", "sqlite://:memory:"}, args...)
		err := run(context.Background(), full, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), args[0]) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line naming %s", args, err, args[0])
		}
	}
}
