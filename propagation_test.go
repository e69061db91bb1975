package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/internal/pgtest"
)

// revocationDelays revokes n tokens on a and measures, for each, the time
// from a's answer to the first 401 of b for that token. b is asked without
// pause; each answer takes about a millisecond, the resolution.
func revocationDelays(t *testing.T, a, b *proc, id, secret string, n int) []time.Duration {
	t.Helper()
	onA := &client{t: t, base: a.base, hc: &http.Client{Timeout: 10 * time.Second}}
	hc := &http.Client{Timeout: 10 * time.Second}
	var delays []time.Duration
	for range n {
		tok := onA.fetchToken(id, secret)
		onB := &client{t: t, base: b.base, token: tok, hc: hc}
		onB.must(http.MethodGet, "/oauth-clients?limit=1", "", "", 200)
		req, _ := http.NewRequest(http.MethodPost, a.base+"/oauth/revoke", strings.NewReader("token="+url.QueryEscape(tok)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke: %v", err)
		}
		resp.Body.Close()
		answered := time.Now()
		for {
			r, err := onB.do(http.MethodGet, "/oauth-clients?limit=1", "", "")
			if err != nil {
				t.Fatal(err)
			}
			if r.status == 401 {
				break
			}
			if time.Since(answered) > 30*time.Second {
				t.Fatalf("B still accepts a token revoked on A 30 s ago")
			}
		}
		delays = append(delays, time.Since(answered))
	}
	return delays
}

// twoServers starts two servers on the PostgreSQL store dbURL, with one
// issuer, and creates on the first a client named name that gets tokens.
// It returns the servers, the first one's admin client, and the client's
// id and secret.
func twoServers(t *testing.T, dbURL, name string) (a, b *proc, admin *client, id, secret string) {
	t.Helper()
	env := []string{"CLIENTELE_ISSUER=http://clientele.test", "CLIENTELE_KEY_ENCRYPTION_KEY=propagation-test-key-0123456789"}
	a = startProc(t, dbURL, env...)
	b = startProc(t, dbURL, env...)
	admin = a.client()
	r := admin.must(http.MethodPost, "/oauth-clients", "application/json",
		`{"name":"`+name+`","grantTypes":["CLIENT_CREDENTIALS"],"scope":["sp:oauth-client:read"]}`, 201)
	return a, b, admin, r.object()["id"].(string), r.object()["secret"].(string)
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// TestRevocationPropagation measures how long a revocation made on one
// server takes to reach another on one PostgreSQL: with LISTEN/NOTIFY, and
// with every listener's backend killed over and over so that only polling
// is left. SPEC §6 bounds both by 5 s, asserted here as a correctness
// bound; the 200 ms target of the notified path is a measurement, logged
// and recorded in BENCHMARKS.md, not asserted.
func TestRevocationPropagation(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 230 revocations")
	}
	dbURL := pgtest.URL(t)
	a, b, _, id, secret := twoServers(t, dbURL, "propagation")

	notified := revocationDelays(t, a, b, id, secret, 200)
	t.Logf("LISTEN/NOTIFY: %d revocations, p50 %v, p99 %v, max %v", len(notified),
		percentile(notified, 0.5), percentile(notified, 0.99), percentile(notified, 1))

	// Break LISTEN: kill the listeners' backends every 20 ms, so that they
	// live at most that long and their reconnections back off to seconds.
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_, _ = conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", db.ListenApplicationName)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second)
	polled := revocationDelays(t, a, b, id, secret, 30)
	stop()
	wg.Wait()
	t.Logf("LISTEN broken: %d revocations, p50 %v, p99 %v, max %v", len(polled),
		percentile(polled, 0.5), percentile(polled, 0.99), percentile(polled, 1))
	if !strings.Contains(b.stdout.String(), "change notifications interrupted") {
		t.Errorf("B did not notice its listener was killed")
	}
	for name, ds := range map[string][]time.Duration{"notified": notified, "polled": polled} {
		if p := percentile(ds, 0.99); p > 5*time.Second {
			t.Errorf("%s: p99 %v exceeds SPEC §6's 5 s", name, p)
		}
	}
}

// A change on one server that lets a client's tokens live again — enabled
// again, CLIENT_CREDENTIALS back, a secret added, a deleted client
// restored — reaches every server sharing the store, as the changes that
// end them do: a server that had seen the client unable to get tokens
// accepts the ones issued after the change within SPEC §6's 5 s, and does
// not keep refusing them.
func TestTokensLiveAgainOnEveryServer(t *testing.T) {
	a, b, admin, id, secret := twoServers(t, pgtest.URL(t), "lives again")
	onA := &client{t: t, base: a.base, hc: &http.Client{Timeout: 10 * time.Second}}
	// within waits until b answers want for tok, for 5 s at most.
	within := func(what, tok string, want int) {
		t.Helper()
		onB := &client{t: t, base: b.base, token: tok, hc: &http.Client{Timeout: 10 * time.Second}}
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			got, err := onB.do(http.MethodGet, "/oauth-clients/"+id, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if got.status == want {
				return
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: B still answers %d after 5 s, want %d", what, got.status, want)
			}
		}
	}
	patch := func(ops string) {
		admin.must(http.MethodPatch, "/oauth-clients/"+id, "application/json-patch+json", ops, 200)
	}
	for _, tc := range []struct{ what, end, again string }{
		{"enabled again", `[{"op":"replace","path":"/enabled","value":false}]`, `[{"op":"replace","path":"/enabled","value":true}]`},
		{"CLIENT_CREDENTIALS back",
			`[{"op":"add","path":"/redirectUris/-","value":"https://a.example/cb"},{"op":"replace","path":"/grantTypes","value":["AUTHORIZATION_CODE"]}]`,
			`[{"op":"replace","path":"/grantTypes","value":["CLIENT_CREDENTIALS"]}]`},
	} {
		old := onA.fetchToken(id, secret)
		within(tc.what+": a token before", old, 200)
		patch(tc.end)
		within(tc.what+": the token ended", old, 401)
		patch(tc.again)
		within(tc.what+": a token after", onA.fetchToken(id, secret), 200)
	}

	// B has read the client's secrets; a secret added on A is one more.
	within("before a secret is added", onA.fetchToken(id, secret), 200)
	added := admin.must(http.MethodPost, "/oauth-clients/"+id+"/secrets", "application/json", `{}`, 201)
	within("a secret added", onA.fetchToken(id, added.object()["secret"].(string)), 200)

	// B has seen the client deleted; restored on A, it gets tokens again.
	old := onA.fetchToken(id, secret)
	hist := admin.must(http.MethodGet, "/oauth-clients/"+id+"/history?limit=1", "", "", 200)
	var evs []struct{ Seq int64 }
	if err := json.Unmarshal(hist.body, &evs); err != nil || len(evs) != 1 {
		t.Fatalf("history: %s (%v)", hist.body, err)
	}
	admin.must(http.MethodDelete, "/oauth-clients/"+id, "", "", 204)
	within("the client deleted", old, 401)
	restored := admin.must(http.MethodPost, "/oauth-clients/"+id+"/restore", "application/json", fmt.Sprintf(`{"seq":%d}`, evs[0].Seq), 200)
	within("the client restored", onA.fetchToken(id, restored.object()["secret"].(string)), 200)
}
