package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/cputime"
	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// backends runs f against every store: a SQLite file, SQLite in memory and
// PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Helper()
	for _, b := range []string{"sqlite", "memory", "postgres"} {
		t.Run(b, func(t *testing.T) {
			var u string
			switch b {
			case "sqlite":
				u = "sqlite://" + filepath.Join(t.TempDir(), "c.db")
			case "memory":
				u = "sqlite://:memory:"
			case "postgres":
				u = pgtest.URL(t)
			}
			s, err := Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			f(t, s)
		})
	}
}

var ctx = context.Background()

func newClient(id, name string) models.OAuthClient {
	c := models.NewClient()
	c.ID = id
	c.Name = name
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	c.Secrets = []models.Secret{{ID: "s-" + id, Hash: []byte("h-" + id), Created: time.Unix(0, 0).UTC()}}
	return c
}

func hexID(n int) string { return fmt.Sprintf("%032x", n) }

func TestCreateGetDuplicate(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		d := "a description"
		c := newClient(hexID(1), "One")
		c.Description = &d
		c.RedirectURIs = []string{"https://a.example/cb"}
		c.Scope = []string{"sp:oauth-client:read"}
		created, err := s.CreateClient(ctx, c, models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if created.Created.IsZero() || !created.Created.Equal(created.Modified) || created.Created.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("timestamps %v %v", created.Created, created.Modified)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !models.SameStoredValues(&got, &created) || !got.Created.Equal(created.Created) {
			t.Errorf("got %+v\nwant %+v", got, created)
		}
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("duplicate: %v", err)
		}
		if _, err := s.GetClient(ctx, hexID(99)); !apierrors.IsNotFound(err) {
			t.Errorf("missing: %v", err)
		}
	})
}

func names(cs []models.OAuthClient) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return strings.Join(out, ",")
}

func TestListFiltersSortsPages(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		t1, t2 := "Team One", "t2"
		biz := "Acme_Corp"
		seed := []func(*models.OAuthClient){
			func(c *models.OAuthClient) { c.Name = "Alpha"; c.Tenant = &t1; c.BusinessName = &biz },
			func(c *models.OAuthClient) { c.Name = "beta 100%"; c.Enabled = false },
			func(c *models.OAuthClient) {
				c.Name = "Gamma"
				c.Tenant = &t2
				c.Type = models.TypePublic
				c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode, models.GrantRefreshToken}
				c.RedirectURIs = []string{"https://g.example"}
			},
			func(c *models.OAuthClient) {
				c.Name = "delta_x"
				c.AccessType = models.AccessOffline
				c.Internal = true
			},
			func(c *models.OAuthClient) { c.Name = "x' OR 1=1 --" },
		}
		var ids []string
		for i, f := range seed {
			c := newClient(hexID(i+1), "")
			f(&c)
			if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
			time.Sleep(2 * time.Millisecond) // distinct created times
		}
		if err := s.TouchLastUsed(ctx, ids[0], time.Now()); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			filter, sorters string
			want            string
		}{
			{``, ``, "Alpha,beta 100%,Gamma,delta_x,x' OR 1=1 --"},
			{``, `-name`, "x' OR 1=1 --,Gamma,delta_x,beta 100%,Alpha"},
			{`name eq "ALPHA"`, ``, "Alpha"},
			{`name ne "alpha"`, ``, "beta 100%,Gamma,delta_x,x' OR 1=1 --"},
			{`name sw "b"`, ``, "beta 100%"},
			{`name co "100%"`, ``, "beta 100%"},
			{`name co "0%"`, ``, "beta 100%"},
			{`name co "a_"`, ``, "delta_x"},
			{`name co "%"`, ``, "beta 100%"},
			{`name co "_"`, ``, "delta_x"},
			{`name in ("gamma", "DELTA_X")`, ``, "Gamma,delta_x"},
			{`name eq "x' OR 1=1 --"`, ``, "x' OR 1=1 --"},
			{`name eq "nothing' OR '1'='1"`, ``, ""},
			{`id eq "` + strings.ToUpper(hexID(3)) + `"`, ``, "Gamma"},
			{`id in ("` + hexID(1) + `", "` + hexID(2) + `")`, ``, "Alpha,beta 100%"},
			{`tenant pr`, ``, "Alpha,Gamma"},
			{`tenant isnull`, ``, "beta 100%,delta_x,x' OR 1=1 --"},
			{`tenant ne "t2"`, ``, "Alpha,beta 100%,delta_x,x' OR 1=1 --"},
			{`not tenant eq "t2"`, ``, "Alpha,beta 100%,delta_x,x' OR 1=1 --"},
			{`tenant sw "team"`, ``, "Alpha"},
			{`businessName co "_c"`, ``, "Alpha"},
			{`enabled eq false`, ``, "beta 100%"},
			{`internal eq true`, ``, "delta_x"},
			{`type eq "PUBLIC"`, ``, "Gamma"},
			{`accessType in ("OFFLINE")`, ``, "delta_x"},
			{`grantTypes ca ("AUTHORIZATION_CODE", "REFRESH_TOKEN")`, ``, "Gamma"},
			{`grantTypes ca ("AUTHORIZATION_CODE", "CLIENT_CREDENTIALS")`, ``, ""},
			{`grantTypes co "CLIENT_CREDENTIALS"`, ``, "Alpha,beta 100%,delta_x,x' OR 1=1 --"},
			{`lastUsed pr`, ``, "Alpha"},
			{`lastUsed isnull and enabled eq true`, ``, "Gamma,delta_x,x' OR 1=1 --"},
			{`created gt 2000-01-01T00:00:00Z and modified lt 2999-01-01T00:00:00Z and name sw "a"`, ``, "Alpha"},
			{`created lt 2000-01-01T00:00:00Z`, ``, ""},
			{`(name sw "a" or name sw "b") and not enabled eq false`, ``, "Alpha"},
			{``, `-lastUsed,name`, "Alpha,beta 100%,delta_x,Gamma,x' OR 1=1 --"},
			{``, `lastUsed,-name`, "Alpha,x' OR 1=1 --,Gamma,delta_x,beta 100%"},
		}
		for _, tt := range tests {
			where, err := query.ParseFilters(tt.filter)
			if err != nil {
				t.Fatalf("%s: %v", tt.filter, err)
			}
			sorters, err := query.ParseSorters(tt.sorters)
			if err != nil {
				t.Fatal(err)
			}
			got, total, err := s.ListClients(ctx, query.List{Limit: 250, Where: where, Sort: sorters, Count: true})
			if err != nil {
				t.Fatalf("%s: %v", tt.filter, err)
			}
			if names(got) != tt.want {
				t.Errorf("filters=%s sorters=%s: got %q, want %q", tt.filter, tt.sorters, names(got), tt.want)
			}
			if int(total) != len(got) {
				t.Errorf("filters=%s: total %d for %d rows", tt.filter, total, len(got))
			}
		}
		// Pages: limit, offset, and a total that ignores them.
		page, total, err := s.ListClients(ctx, query.List{Limit: 2, Offset: 1, Count: true})
		if err != nil || names(page) != "beta 100%,Gamma" || total != 5 {
			t.Errorf("page = %q, total %d, %v", names(page), total, err)
		}
		page, total, err = s.ListClients(ctx, query.List{Limit: 0, Count: false})
		if err != nil || len(page) != 0 || total != -1 {
			t.Errorf("limit 0 = %q, total %d, %v", names(page), total, err)
		}
	})
}

func TestUpdateClient(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, err := s.CreateClient(ctx, newClient(hexID(1), "Up"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
		// No change: nothing written, modified stays.
		same, err := s.UpdateClient(ctx, c.ID, func(*models.OAuthClient) error { return nil }, models.WriteOptions{})
		if err != nil || !same.Modified.Equal(c.Modified) {
			t.Errorf("no-op update moved modified: %v → %v (%v)", c.Modified, same.Modified, err)
		}
		// A real change moves modified, keeps created, writes once.
		changed, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error { x.Name = "Up 2"; return nil }, models.WriteOptions{})
		if err != nil || !changed.Modified.After(c.Modified) || !changed.Created.Equal(c.Created) || changed.TokenGeneration != 0 {
			t.Errorf("changed %+v (%v)", changed, err)
		}
		if got, _ := s.GetClient(ctx, c.ID); got.Name != "Up 2" || !got.Modified.Equal(changed.Modified) {
			t.Errorf("stored %+v", got)
		}
		// fn's error (a failed validation among them: validating is fn's
		// part) stores nothing.
		boom := apierrors.NewPreconditionFailed("stale")
		if _, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error { x.Name = "never"; return boom }, models.WriteOptions{}); !errors.Is(err, boom) {
			t.Errorf("fn error = %v", err)
		}
		// fn cannot change the id or timestamps.
		if _, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
			x.ID = hexID(7)
			x.Created = time.Unix(0, 0)
			return nil
		}, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetClient(ctx, c.ID); got.Name != "Up 2" || !got.Created.Equal(c.Created) {
			t.Errorf("after refused changes: %+v", got)
		}
		if _, err := s.GetClient(ctx, hexID(7)); !apierrors.IsNotFound(err) {
			t.Errorf("id changed: %v", err)
		}
		if _, err := s.UpdateClient(ctx, hexID(9), func(*models.OAuthClient) error { return nil }, models.WriteOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("missing client: %v", err)
		}
	})
}

func TestTokenInvalidatingUpdates(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		changes := map[string]func(*models.OAuthClient){
			"disable": func(c *models.OAuthClient) { c.Enabled = false },
			"rotate":  func(c *models.OAuthClient) { c.TokenGeneration++ },
			"drop client credentials": func(c *models.OAuthClient) {
				c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode}
				c.RedirectURIs = []string{"https://x.example"}
			},
		}
		n := 0
		for name, change := range changes {
			n++
			id := hexID(100 + n)
			since := time.Now().Add(-time.Second)
			if _, err := s.CreateClient(ctx, newClient(id, name), models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			got, err := s.UpdateClient(ctx, id, func(c *models.OAuthClient) error { change(c); return nil }, models.WriteOptions{})
			if err != nil || got.TokenGeneration != 1 {
				t.Errorf("%s: generation %d (%v)", name, got.TokenGeneration, err)
			}
			evs, err := s.TokenEvents(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ev := range evs {
				found = found || (ev.ClientID == id && ev.JTI == "")
			}
			if !found {
				t.Errorf("%s: no token event in %+v", name, evs)
			}
		}
	})
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, err := s.CreateClient(ctx, newClient(hexID(1), "busy"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const writers = 40
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
					x.RedirectURIs = append(x.RedirectURIs, fmt.Sprintf("https://w%d.example/cb", i))
					return nil
				}, models.WriteOptions{})
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		got, _ := s.GetClient(ctx, c.ID)
		if len(got.RedirectURIs) != writers {
			t.Errorf("stored %d URIs, want %d", len(got.RedirectURIs), writers)
		}
	})
}

func TestDeleteClient(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, _ := s.CreateClient(ctx, newClient(hexID(1), "bye"), models.WriteOptions{})
		stop := apierrors.NewPreconditionFailed("no")
		if err := s.DeleteClient(ctx, c.ID, func(*models.OAuthClient) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("check error = %v", err)
		}
		if _, err := s.GetClient(ctx, c.ID); err != nil {
			t.Errorf("deleted despite the check: %v", err)
		}
		since := time.Now().Add(-time.Second)
		if err := s.DeleteClient(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetClient(ctx, c.ID); !apierrors.IsNotFound(err) {
			t.Errorf("after delete: %v", err)
		}
		if err := s.DeleteClient(ctx, c.ID, nil); !apierrors.IsNotFound(err) {
			t.Errorf("second delete: %v", err)
		}
		evs, _ := s.TokenEvents(ctx, since)
		if len(evs) != 1 || evs[0].ClientID != c.ID {
			t.Errorf("events %+v", evs)
		}
	})
}

func TestTouchLastUsedOnceADay(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, _ := s.CreateClient(ctx, newClient(hexID(1), "used"), models.WriteOptions{})
		day1 := time.Now().UTC().Truncate(time.Millisecond)
		if err := s.TouchLastUsed(ctx, c.ID, day1); err != nil {
			t.Fatal(err)
		}
		_ = s.TouchLastUsed(ctx, c.ID, day1.Add(time.Hour))
		got, _ := s.GetClient(ctx, c.ID)
		if got.LastUsed == nil || !got.LastUsed.Equal(day1) || !got.Modified.Equal(c.Modified) {
			t.Fatalf("lastUsed %v, modified %v → %v", got.LastUsed, c.Modified, got.Modified)
		}
		day2 := day1.Add(25 * time.Hour)
		_ = s.TouchLastUsed(ctx, c.ID, day2)
		got, _ = s.GetClient(ctx, c.ID)
		if !got.LastUsed.Equal(day2) {
			t.Errorf("a day later lastUsed = %v", got.LastUsed)
		}
		if err := s.TouchLastUsed(ctx, hexID(9), day2); err != nil {
			t.Errorf("missing client: %v", err)
		}
		if ok, err := s.HasClientWithScope(ctx, models.ScopeAll); ok || err != nil {
			t.Errorf("HasClientWithScope = %v, %v", ok, err)
		}
		admin := newClient("admin", "admin")
		admin.Scope = []string{models.ScopeAll}
		_, _ = s.CreateClient(ctx, admin, models.WriteOptions{})
		if ok, err := s.HasClientWithScope(ctx, models.ScopeAll); !ok || err != nil {
			t.Errorf("HasClientWithScope after admin = %v, %v", ok, err)
		}
	})
}

func TestSigningKeysAndEvents(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		key := func(kid, state string, activates time.Time) models.SigningKey {
			return models.SigningKey{KID: kid, Algorithm: "ES256", PrivateKey: []byte(kid), State: state,
				Created: now, Activates: activates}
		}
		if err := s.AddSigningKey(ctx, key("a", models.KeyActive, now.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSigningKey(ctx, key("x", models.KeyActive, now)); !apierrors.IsConflict(err) {
			t.Errorf("second active key: %v, want Conflict", err)
		}
		if err := s.AddSigningKey(ctx, key("b", models.KeyNext, now.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSigningKey(ctx, key("c", models.KeyNext, now)); !apierrors.IsConflict(err) {
			t.Errorf("second next key: %v, want Conflict", err)
		}
		if err := s.AddSigningKey(ctx, key("d", models.KeyRetired, now)); err == nil {
			t.Error("a key added as retired")
		}
		if changed, err := s.AdvanceSigningKeys(ctx, now, now.Add(-24*time.Hour)); changed || err != nil {
			t.Errorf("advance before the next key is due: %v %v", changed, err)
		}
		if changed, err := s.AdvanceSigningKeys(ctx, now.Add(time.Minute), now.Add(-24*time.Hour)); !changed || err != nil {
			t.Errorf("advance when due: %v %v", changed, err)
		}
		keys, err := s.SigningKeys(ctx)
		if err != nil || len(keys) != 2 || keys[0].KID != "a" || keys[0].State != models.KeyRetired ||
			!keys[0].Retires.Equal(now.Add(time.Minute)) || keys[1].State != models.KeyActive || string(keys[1].PrivateKey) != "b" {
			t.Errorf("keys %+v (%v)", keys, err)
		}
		if err := s.SealSigningKey(ctx, "b", []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		if changed, err := s.AdvanceSigningKeys(ctx, now.Add(time.Minute), now.Add(time.Minute+time.Millisecond)); !changed || err != nil {
			t.Errorf("advance past the removal time: %v %v", changed, err)
		}
		keys, _ = s.SigningKeys(ctx)
		if len(keys) != 1 || keys[0].KID != "b" || !keys[0].Encrypted || string(keys[0].PrivateKey) != "sealed" {
			t.Errorf("keys after removal %+v", keys)
		}
		old := models.TokenEvent{ClientID: "c", JTI: "j1", Created: now.Add(-time.Minute), ExpiresAt: now.Add(-time.Second)}
		live := models.TokenEvent{ClientID: "c", JTI: "j2", Created: now, ExpiresAt: now.Add(time.Hour)}
		for _, ev := range []models.TokenEvent{old, live} {
			if err := s.RevokeToken(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.TokenEvents(ctx, now.Add(-time.Hour))
		if err != nil || len(evs) != 1 || evs[0].JTI != "j2" || !evs[0].ExpiresAt.Equal(live.ExpiresAt) {
			t.Errorf("events %+v (%v)", evs, err)
		}
		if err := s.PurgeTokenEvents(ctx, now); err != nil {
			t.Fatal(err)
		}
		var n int64
		s.r.Table("token_events").Count(&n)
		if n != 1 {
			t.Errorf("after purge %d events, want 1", n)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateClient(ctx, newClient(hexID(1), "kept"), models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.GetClient(ctx, hexID(1)); err != nil || got.Name != "kept" {
		t.Errorf("after reopening: %+v %v", got, err)
	}
	var mode string
	sqlDB, _ := s.w.DB()
	if err := sqlDB.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v)", mode, err)
	}
}

func TestConcurrentMigrationOnPostgres(t *testing.T) {
	u := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, u)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlDB, _ := s.w.DB()
	var n int
	if err := sqlDB.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(migrations) {
		t.Errorf("schema_migrations holds %d rows, want %d (%v)", n, len(migrations), err)
	}
}

// TestConcurrentRotationOnPostgres: servers adding a next key at the same
// instant leave exactly one.
func TestConcurrentRotationOnPostgres(t *testing.T) {
	u := pgtest.URL(t)
	var stores []*Store
	for range 4 {
		s, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	start := make(chan struct{})
	for n, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[n] = s.AddSigningKey(ctx, models.SigningKey{KID: fmt.Sprint("k", n), Algorithm: "ES256",
				PrivateKey: []byte{1}, State: models.KeyNext, Created: now, Activates: now})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !apierrors.IsConflict(err):
			t.Errorf("unexpected error %v", err)
		}
	}
	keys, _ := stores[0].SigningKeys(ctx)
	if ok != 1 || len(keys) != 1 {
		t.Errorf("%d rotations succeeded, %d keys stored; want 1 and 1", ok, len(keys))
	}
}

// TestKeysBeforeTheLifecycleBecomeActive migrates a store of the first
// schema: the oldest key, the one that signed, becomes active.
func TestKeysBeforeTheLifecycleBecomeActive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	pgURL := pgtest.URL(t)
	for _, u := range []string{"sqlite://" + path, pgURL} {
		// The first schema, as a server of that time left it.
		driver, dsn, stmts := "sqlite3", "file:"+path, migrations[0].sqlite
		if u == pgURL {
			driver, dsn, stmts = "pgx", pgURL, migrations[0].postgres
		}
		old, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
			`INSERT INTO schema_migrations VALUES (1, 'first', 0)`,
			`INSERT INTO signing_keys (kid, alg, private_key, created) VALUES ('second', 'ES256', 'x', 1000)`,
			`INSERT INTO signing_keys (kid, alg, private_key, created) VALUES ('first', 'ES256', 'x', 999)`)
		for _, q := range stmts {
			if _, err := old.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		old.Close()
		s, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := s.SigningKeys(ctx)
		s.Close()
		if err != nil || len(keys) != 2 || keys[0].KID != "first" || keys[0].State != models.KeyActive ||
			!keys[0].Activates.Equal(keys[0].Created) || keys[1].State != models.KeyRetired {
			t.Errorf("%s: keys after migration %+v (%v)", u[:6], keys, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite://", "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"} {
		_, err := Open(ctx, u)
		if err == nil {
			t.Errorf("Open(%s) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Open(%s): %q leaks the password or spans lines", u, err)
		}
	}
}

func TestUnreachablePostgresIsUnavailable(t *testing.T) {
	srv := pgtest.New(t)
	s, err := Open(ctx, srv.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Stop()
	_, err = s.GetClient(ctx, hexID(1))
	if !apierrors.IsUnavailable(err) {
		t.Errorf("with PostgreSQL down: %v, want 503", err)
	}
	if err := s.Ping(ctx); !apierrors.IsUnavailable(err) {
		t.Errorf("Ping with PostgreSQL down: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = s.GetClient(ctx, hexID(1))
		if apierrors.IsNotFound(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !apierrors.IsNotFound(err) {
		t.Errorf("after PostgreSQL came back: %v", err)
	}
}

func BenchmarkGetClient(b *testing.B) {
	s, err := Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	_, _ = s.CreateClient(ctx, newClient(hexID(1), "bench"), models.WriteOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetClient(ctx, hexID(1)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateClient(b *testing.B) {
	s, err := Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	_, _ = s.CreateClient(ctx, newClient(hexID(1), "bench"), models.WriteOptions{})
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := s.UpdateClient(ctx, hexID(1), func(c *models.OAuthClient) error {
			d := fmt.Sprint(i)
			c.Description = &d
			return nil
		}, models.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileFilter(b *testing.B) {
	e, _ := query.ParseFilters(`name sw "acme" and (tenant eq "t1" or tenant isnull) and enabled eq true`)
	b.ReportAllocs()
	for b.Loop() {
		compileFilter(e, SQLite)
	}
}

// BenchmarkUpdateClientParallel updates one hot client, or clients spread
// over 1 000, from 16 goroutines per CPU, as PATCH under load does.
func BenchmarkUpdateClientParallel(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s, err := Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < n; i++ {
				if _, err := s.CreateClient(ctx, newClient(hexID(i+1), "bench"), models.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			var seq sync.Mutex
			next := 0
			b.SetParallelism(16)
			b.ReportAllocs()
			cpu := cputime.Process()
			b.Cleanup(func() { b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op") })
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					seq.Lock()
					next++
					i := next
					seq.Unlock()
					if _, err := s.UpdateClient(ctx, hexID(i%n+1), func(c *models.OAuthClient) error {
						d := fmt.Sprint(i)
						c.Description = &d
						return nil
					}, models.WriteOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestSecretsBeforeSecretsMigrate migrates a client of the schema that kept
// one secret hash: it keeps that secret, now the first of its secrets.
func TestSecretsBeforeSecretsMigrate(t *testing.T) {
	for _, u := range []string{"sqlite://" + filepath.Join(t.TempDir(), "old.db"), pgtest.URL(t)} {
		all := migrations
		migrations = all[:3]
		s, err := connect(u)
		if err == nil {
			err = s.migrate(ctx)
		}
		migrations = all
		if err != nil {
			t.Fatal(err)
		}
		hash := []byte("0123456789abcdef0123456789abcdef")
		for _, typ := range []string{"CONFIDENTIAL", "PUBLIC"} {
			if err := s.w.Exec(`INSERT INTO oauth_clients (id, name, name_lower, access_token_validity_seconds,
				refresh_token_validity_seconds, redirect_uris, grant_types, access_type, type, internal, enabled,
				strong_auth_supported, claims_supported, scope, created, modified, secret_hash)
				VALUES (?, 'old', 'old', 3600, 86400, '[]', '["CLIENT_CREDENTIALS"]', 'ONLINE', ?, false, true,
				false, false, '[]', 1000, 2000, ?)`, strings.ToLower(typ), typ, map[string][]byte{"CONFIDENTIAL": hash}[typ]).Error; err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		s, err = Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.GetClient(ctx, "confidential")
		if err != nil || len(c.Secrets) != 1 || !bytes.Equal(c.Secrets[0].Hash, hash) || len(c.Secrets[0].ID) != 32 ||
			!c.Secrets[0].Created.Equal(time.UnixMilli(2000).UTC()) || c.Secrets[0].Expires != nil {
			t.Errorf("%s: the confidential client after the migration: %+v, %v", u, c.Secrets, err)
		}
		if !c.HasAuthMethod(models.AuthSecretBasic) || !c.HasAuthMethod(models.AuthSecretPost) {
			t.Errorf("%s: methods %v", u, c.TokenEndpointAuthMethods)
		}
		p, err := s.GetClient(ctx, "public")
		if err != nil || len(p.Secrets) != 0 || len(p.TokenEndpointAuthMethods) != 1 || p.TokenEndpointAuthMethods[0] != models.AuthNone {
			t.Errorf("%s: the public client after the migration: %+v %v, %v", u, p.Secrets, p.TokenEndpointAuthMethods, err)
		}
		s.Close()
	}
}
