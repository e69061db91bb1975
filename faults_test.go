package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3"

	"github.com/clientele/clientele/internal/pgtest"
)

// TestTwoServersOnePostgres runs two processes on one empty PostgreSQL
// database, started at once: they migrate it once, see each other's
// writes, lose none of 40 concurrent appends spread over both, and honour
// each other's revocations and disablings within 5 s.
func TestTwoServersOnePostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	var a, b *proc
	var wg sync.WaitGroup
	wg.Add(2)
	// Servers behind one load balancer share one issuer.
	issuer := "CLIENTELE_ISSUER=http://clientele.test"
	go func() { defer wg.Done(); a = startProc(t, dbURL, issuer) }()
	go func() { defer wg.Done(); b = startProc(t, dbURL, issuer) }()
	wg.Wait()
	if a == nil || b == nil {
		t.Fatal("a server did not start")
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Each migration recorded once: versions 1 … n, n rows.
	var migrations, latest int
	if err := conn.QueryRow(context.Background(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&migrations, &latest); err != nil || migrations != latest {
		t.Errorf("schema_migrations has %d rows for %d versions (%v)", migrations, latest, err)
	}
	ca, cb := a.client(), b.client()

	id, secret := ca.create("shared")
	if r := cb.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200); r.object()["name"] != "shared" {
		t.Errorf("B reads %s", r.body)
	}
	cb.must(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"description":"from B"}`, 200)
	if r := ca.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200); r.object()["description"] != "from B" {
		t.Errorf("A reads %s", r.body)
	}

	var appends sync.WaitGroup
	for i := 0; i < 40; i++ {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		appends.Add(1)
		go func(i int, c *client) {
			defer appends.Done()
			body := fmt.Sprintf(`[{"op":"add","path":"/redirectUris/-","value":"https://s%d.example/cb"}]`, i)
			if r, err := c.do(http.MethodPatch, "/oauth-clients/"+id, "application/json-patch+json", body); err != nil || r.status != 200 {
				t.Errorf("append %d: %v %d %s", i, err, r.status, r.body)
			}
		}(i, c)
	}
	appends.Wait()
	var got struct {
		RedirectURIs []string `json:"redirectUris"`
	}
	_ = json.Unmarshal(cb.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200).body, &got)
	if len(got.RedirectURIs) != 40 {
		t.Errorf("after 40 appends over two servers: %d URIs", len(got.RedirectURIs))
	}

	// A token made on A, used on B; revoked on A, refused by B within 5 s.
	user := &client{t: t, base: a.base, hc: http.DefaultClient}
	tok := user.fetchToken(id, secret)
	onB := &client{t: t, base: b.base, token: tok, hc: http.DefaultClient}
	onB.must(http.MethodGet, "/oauth-clients?limit=1", "", "", 200)
	req, _ := http.NewRequest(http.MethodPost, a.base+"/oauth/revoke", strings.NewReader("token="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v", err)
	}
	waitStatus(t, onB, "/oauth-clients?limit=1", 401, 5*time.Second, "revocation made on A")

	// A client disabled on B: its token dies on A within 5 s.
	tok2 := user.fetchToken(id, secret)
	onA := &client{t: t, base: a.base, token: tok2, hc: http.DefaultClient}
	onA.must(http.MethodGet, "/oauth-clients?limit=1", "", "", 200)
	cb.must(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"enabled":false}`, 200)
	waitStatus(t, onA, "/oauth-clients?limit=1", 401, 5*time.Second, "disabling made on B")
}

// waitStatus polls path until it answers want, for at most d.
func waitStatus(t *testing.T, c *client, path string, want int, d time.Duration, what string) {
	t.Helper()
	start := time.Now()
	for {
		r, err := c.do(http.MethodGet, path, "", "")
		if err == nil && r.status == want {
			t.Logf("%s took effect after %v", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > d {
			t.Fatalf("%s: still %d after %v", what, r.status, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrashSafety kills the server with SIGKILL in the middle of a write
// load, restarts it on the same store, and finds every acknowledged write.
func TestCrashSafety(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var dbURL, path string
			if backend == "sqlite" {
				path = filepath.Join(t.TempDir(), "crash.db")
				dbURL = "sqlite://" + path
			} else {
				dbURL = pgtest.URL(t)
			}
			p := startProc(t, dbURL)
			c := p.client()

			// Each worker creates a client, then appends URIs to it; every
			// acknowledged create and append is recorded.
			var mu sync.Mutex
			acked := map[string][]string{} // client id → its acknowledged URIs
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var n atomic.Int64
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					id := ""
					for i := 0; i < 2000; i++ {
						select {
						case <-stop:
							return
						default:
						}
						n.Add(1)
						if i%20 == 0 || id == "" {
							r, err := c.do(http.MethodPost, "/oauth-clients", "application/json",
								fmt.Sprintf(`{"name":"w%d-%d","grantTypes":["CLIENT_CREDENTIALS"]}`, w, i))
							if err != nil || r.status != 201 {
								id = ""
								continue
							}
							id = r.object()["id"].(string)
							mu.Lock()
							acked[id] = nil
							mu.Unlock()
							continue
						}
						u := fmt.Sprintf("https://w%d-%d.example/cb", w, i)
						r, err := c.do(http.MethodPatch, "/oauth-clients/"+id, "application/json-patch+json",
							`[{"op":"add","path":"/redirectUris/-","value":"`+u+`"}]`)
						if err != nil || r.status != 200 {
							continue
						}
						mu.Lock()
						acked[id] = append(acked[id], u)
						mu.Unlock()
					}
				}(w)
			}
			// Let the load run, then kill the server mid-way.
			deadline := time.Now().Add(10 * time.Second)
			for n.Load() < 400 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-p.done
			close(stop)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(acked) == 0 {
				t.Fatal("no write was acknowledged before the kill")
			}
			if backend == "sqlite" {
				checkIntegrity(t, path)
			}
			q := startProc(t, dbURL).client()
			appends := 0
			for id, uris := range acked {
				var got struct {
					RedirectURIs []string `json:"redirectUris"`
				}
				_ = json.Unmarshal(q.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200).body, &got)
				have := map[string]bool{}
				for _, u := range got.RedirectURIs {
					have[u] = true
				}
				for _, u := range uris {
					appends++
					if !have[u] {
						t.Errorf("client %s lost the acknowledged %s", id, u)
					}
				}
			}
			events := checkWritesHaveEvents(t, q)
			t.Logf("%d requests sent; %d creates and %d appends acknowledged, all found after SIGKILL; %d events, one per stored write",
				n.Load(), len(acked), appends, events)
		})
	}
}

// checkWritesHaveEvents holds the store after a crash to SPEC §10: a write
// and its event are both there or neither is. Every client's events are
// one created plus one patched per redirect URI it holds (each write of the
// load adds one), the newest ending at the client's current ETag; every
// client the feed names exists. It returns the number of events.
func checkWritesHaveEvents(t *testing.T, c *client) int {
	t.Helper()
	type event struct {
		Seq       int64   `json:"seq"`
		Type      string  `json:"type"`
		ClientID  string  `json:"clientId"`
		ETagAfter *string `json:"etagAfter"`
	}
	byClient := map[string][]event{}
	total, after := 0, int64(0)
	for {
		var page []event
		if err := json.Unmarshal(c.must(http.MethodGet, fmt.Sprintf("/oauth-client-events?after=%d&limit=1000", after), "", "", 200).body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Seq <= after {
				t.Fatalf("feed went from seq %d to %d", after, ev.Seq)
			}
			after = ev.Seq
			byClient[ev.ClientID] = append(byClient[ev.ClientID], ev)
			total++
		}
	}
	for id, evs := range byClient {
		r := c.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200)
		var got struct {
			RedirectURIs []string `json:"redirectUris"`
			LastUsed     *string  `json:"lastUsed"`
		}
		_ = json.Unmarshal(r.body, &got)
		last := evs[len(evs)-1]
		// Issuing a token moves lastUsed, which is no change of the
		// client and no event: only the admin's ETag moves so.
		sameETag := got.LastUsed != nil || last.ETagAfter != nil && *last.ETagAfter == r.header.Get("ETag")
		if evs[0].Type != "created" || len(evs) != 1+len(got.RedirectURIs) || !sameETag {
			t.Errorf("client %s: %d events (first %s) for %d URIs; newest ends at %v, the client is at %s",
				id, len(evs), evs[0].Type, len(got.RedirectURIs), last.ETagAfter, r.header.Get("ETag"))
		}
	}
	var list []struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(c.must(http.MethodGet, "/oauth-clients?limit=250", "", "", 200).body, &list)
	for _, cl := range list {
		if _, ok := byClient[cl.ID]; !ok {
			t.Errorf("client %s is stored without any event", cl.ID)
		}
	}
	return total
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("PRAGMA integrity_check = %q (%v)", res, err)
	}
}

// TestGracefulShutdown sends SIGTERM while a request is in flight: that
// request is answered, new connections are refused, the process exits 0
// and leaves a consistent store.
func TestGracefulShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "term.db")
	p := startProc(t, "sqlite://"+path)
	c := p.client()
	id, _ := c.create("draining")

	// An in-flight PATCH whose body arrives slowly.
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"description":"written during shutdown"}`
	fmt.Fprintf(conn, "PATCH /oauth-clients/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/merge-patch+json\r\nContent-Length: %d\r\n\r\n%s", id, c.token, len(body), body[:10])
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// New connections are refused once shutdown has begun.
	if c2, err := net.DialTimeout("tcp", strings.TrimPrefix(p.base, "http://"), time.Second); err == nil {
		c2.Close()
		t.Error("a new connection was accepted during shutdown")
	}
	fmt.Fprint(conn, body[10:])
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request was not answered: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("in-flight request: status %d", resp.StatusCode)
	}
	resp.Body.Close()
	if err := p.wait(15 * time.Second); err != nil {
		t.Errorf("exit: %v\n%s", err, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("stderr: %s", p.stderr)
	}
	checkIntegrity(t, path)
	q := startProc(t, "sqlite://"+path).client()
	if r := q.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200); r.object()["description"] != "written during shutdown" {
		t.Errorf("after restart: %s", r.body)
	}
}

// TestPostgresOutage stops PostgreSQL under a running server: requests get
// 503 in the envelope within seconds, /readyz says 503, and everything
// recovers by itself when PostgreSQL returns.
func TestPostgresOutage(t *testing.T) {
	srv := pgtest.New(t)
	p := startProc(t, srv.URL(t))
	c := p.client()
	id, _ := c.create("outage")
	srv.Stop()
	for _, path := range []string{"/oauth-clients/" + id, "/oauth-clients?limit=5"} {
		start := time.Now()
		r, err := c.do(http.MethodGet, path, "", "")
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			DetailCode string `json:"detailCode"`
			TrackingID string `json:"trackingId"`
		}
		_ = json.Unmarshal(r.body, &env)
		if r.status != 503 || env.DetailCode != "503 Service Unavailable" || env.TrackingID == "" {
			t.Errorf("GET %s with PostgreSQL down: %d %s", path, r.status, r.body)
		}
		if d := time.Since(start); d > 12*time.Second {
			t.Errorf("GET %s took %v", path, d)
		}
	}
	if r, _ := c.do(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"description":"x"}`); r.status != 503 {
		t.Errorf("PATCH with PostgreSQL down: %d %s", r.status, r.body)
	}
	if r, _ := c.do(http.MethodGet, "/readyz", "", ""); r.status != 503 {
		t.Errorf("/readyz with PostgreSQL down: %d", r.status)
	}
	if r, _ := c.do(http.MethodGet, "/healthz", "", ""); r.status != 200 {
		t.Errorf("/healthz with PostgreSQL down: %d", r.status)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "/readyz", 200, 15*time.Second, "recovery")
	c.must(http.MethodGet, "/oauth-clients/"+id, "", "", 200)
	c.must(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"description":"back"}`, 200)
}

// TestSQLiteWritersNeverSeeBusy runs many concurrent writers against one
// SQLite file: none of them may meet SQLITE_BUSY or any 5xx.
func TestSQLiteWritersNeverSeeBusy(t *testing.T) {
	p := startProc(t, "sqlite://"+filepath.Join(t.TempDir(), "busy.db"))
	c := p.client()
	hot, _ := c.create("hot")
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				var r reply
				var err error
				if i%2 == 0 {
					r, err = c.do(http.MethodPost, "/oauth-clients", "application/json", fmt.Sprintf(`{"name":"b%d-%d","grantTypes":["CLIENT_CREDENTIALS"]}`, w, i))
				} else {
					r, err = c.do(http.MethodPatch, "/oauth-clients/"+hot, "application/merge-patch+json", fmt.Sprintf(`{"description":"w%d-%d"}`, w, i))
				}
				if err != nil || r.status >= 500 {
					failures.Add(1)
					t.Errorf("writer %d: %v %d %s", w, err, r.status, r.body)
				}
			}
		}(w)
	}
	wg.Wait()
	if strings.Contains(p.stdout.String(), "locked") || strings.Contains(p.stdout.String(), "BUSY") {
		t.Errorf("the log shows lock errors:\n%s", p.stdout)
	}
}
