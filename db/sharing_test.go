package db

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/clientele/clientele/models"
)

// The update path shares memory where it used to copy (plan, the snapshot
// cache, the events' snapshots). These tests hold what that must not
// change: every event's before and after are byte for byte the encoding
// of the client's Clone without hashes, the cached snapshot is what a read
// gives, and an answer is its caller's own.

// eventJSON is what an event records of c: the JSON of its Clone, the
// secrets' hashes dropped.
func eventJSON(t *testing.T, c *models.OAuthClient) string {
	t.Helper()
	d := c.Clone()
	for i := range d.Secrets {
		d.Secrets[i].Hash = nil
	}
	b, err := json.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSnapshotIsCloneWithoutHashes(t *testing.T) {
	c := newClient(hexID(1), "snap")
	d := "a <description> & more"
	c.Description = &d
	c.RedirectURIs, c.Audience, c.GrantTypes = nil, nil, nil
	exp := time.UnixMilli(1_700_000_000_123).UTC()
	c.Secrets = append(c.Secrets, models.Secret{ID: "s-2", Hash: []byte("h-2"), Created: exp, Expires: &exp, Hint: "ab"})
	c.JWKS = models.KeySet(`{"keys": []}`)
	c.RegistrationTokenHash = []byte("reg")
	pub := newClient(hexID(2), "public")
	pub.Secrets = nil
	for _, c := range []*models.OAuthClient{&c, &pub} {
		keep, err := json.Marshal(c) // hashes included, nil arrays kept
		if err != nil {
			t.Fatal(err)
		}
		keepReg := bytes.Clone(c.RegistrationTokenHash)
		got, err := json.Marshal(snapshot(c))
		if err != nil {
			t.Fatal(err)
		}
		if want := eventJSON(t, c); string(got) != want {
			t.Errorf("snapshot encodes as\n%s\nwant\n%s", got, want)
		}
		if enc, err := encodeSnapshot(snapshot(c)); err != nil || *enc != string(got) {
			t.Errorf("encodeSnapshot gives\n%v (%v)\njson.Marshal\n%s", enc, err, got)
		}
		if now, _ := json.Marshal(c); !bytes.Equal(now, keep) || !bytes.Equal(c.RegistrationTokenHash, keepReg) {
			t.Errorf("snapshot changed its client:\n%s\nwas\n%s", now, keep)
		}
	}
}

// eventColumnsOf returns the raw before and after of id's events, in seq
// order.
func eventColumnsOf(t *testing.T, s *Store, id string) (before, after []*string) {
	t.Helper()
	rdb, _ := s.r.DB()
	rows, err := rdb.QueryContext(ctx, s.rebind("SELECT before, after FROM client_events WHERE client_id = ? ORDER BY seq"), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, a *string
		if err := rows.Scan(&b, &a); err != nil {
			t.Fatal(err)
		}
		before, after = append(before, b), append(after, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return before, after
}

// checkCached fails unless the cached snapshot of id is what a read gives.
func checkCached(t *testing.T, s *Store, id string) {
	t.Helper()
	cached, cv, ok := s.snapshots.get(id)
	if !ok {
		t.Fatal("nothing cached")
	}
	read, rv, err := s.readVersioned(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if cv != rv || !reflect.DeepEqual(cached, read) {
		t.Errorf("cached at version %d\n%+v\nread at version %d\n%+v", cv, cached, rv, read)
	}
}

// A batch of three updates of one client (queued behind a fourth that
// holds the client's turn) records three events whose before is the
// previous state and after the answer, each encoded as an event encodes a
// client, and leaves the cache equal to a read.
func TestBatchEventsEncodeTheirStates(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c := newClient(hexID(1), "batch")
		c.RedirectURIs = []string{"https://a.example/cb"}
		c.Secrets = append(c.Secrets, models.Secret{ID: "s-2", Hash: []byte("h-2"), Created: time.UnixMilli(60_000).UTC()})
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Cached from here on.
		_, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
			x.Name = "first"
			return nil
		}, models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkCached(t, s, c.ID)
		release := make(chan struct{})
		holding := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
				close(holding)
				<-release
				x.Name = "holder"
				return nil
			}, models.WriteOptions{})
			done <- err
		}()
		<-holding
		changes := []func(*models.OAuthClient){
			func(x *models.OAuthClient) { d := "one"; x.Description = &d },
			func(x *models.OAuthClient) { x.RedirectURIs = nil; x.Secrets = x.Secrets[:1] },
			func(x *models.OAuthClient) { x.Enabled = false; x.Audience = []string{"https://api.example"} },
		}
		answers := make([]models.OAuthClient, len(changes))
		errs := make(chan error, len(changes))
		for i, change := range changes {
			go func() {
				var err error
				answers[i], err = s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
					change(x)
					return nil
				}, models.WriteOptions{})
				errs <- err
			}()
			for queued := 0; queued != i+1; {
				s.updates.mu.Lock()
				queued = len(s.updates.m[c.ID])
				s.updates.mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for range changes {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		before, after := eventColumnsOf(t, s, c.ID)
		if len(before) != 6 {
			t.Fatalf("%d events, want 6", len(before))
		}
		// Events 3 to 5 are the batch; 2 is the holder's, whose after the
		// batch starts from.
		prev := after[2]
		for k := range changes {
			e := 3 + k
			if before[e] == nil || *before[e] != *prev {
				t.Errorf("event %d: before is not the after before it", e)
			}
			if want := eventJSON(t, &answers[k]); after[e] == nil || *after[e] != want {
				t.Errorf("event %d: after\n%v\nwant\n%s", e, after[e], want)
			}
			prev = after[e]
		}
		if answers[0].Name != "holder" || answers[2].Description == nil || *answers[2].Description != "one" ||
			len(answers[2].Secrets) != 1 || answers[2].Enabled {
			t.Errorf("answers %+v", answers)
		}
		checkCached(t, s, c.ID)
		// An answer is its caller's own: changing it changes no snapshot.
		answers[2].Audience[0] = "changed"
		answers[2].Secrets[0].Hash[0] = 'X'
		answers[2].Secrets[0].ID = "changed"
		checkCached(t, s, c.ID)
	})
}

// A client with a registration access token is cached like any other,
// its token's hash included, whether an update keeps it or replaces it.
func TestCachedSnapshotOfARegisteredClient(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c := newClient(hexID(1), "registered")
		c.RegistrationTokenHash = []byte("first hash")
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		for i, change := range []func(*models.OAuthClient){
			func(x *models.OAuthClient) { x.Name = "renamed" },
			func(x *models.OAuthClient) { x.RegistrationTokenHash = []byte("second hash") },
			func(x *models.OAuthClient) { x.Name = "renamed again" },
		} {
			got, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
				change(x)
				return nil
			}, models.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkCached(t, s, c.ID)
			if want := []byte("second hash"); i > 0 && !bytes.Equal(got.RegistrationTokenHash, want) {
				t.Errorf("change %d: hash %q", i, got.RegistrationTokenHash)
			}
		}
	})
}

// sameEventJSON never says yes for two clients that encode differently,
// and says yes for a client and its as-stored twin when nothing but the
// fields no event shows differ.
func TestSameEventJSON(t *testing.T) {
	base := newClient(hexID(1), "same")
	d := "d"
	base.Description = &d
	base.JWKS = models.KeySet(`{"keys":[]}`)
	at := time.UnixMilli(1_700_000_000_123).UTC()
	base.Secrets[0].Expires = &at
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	for _, v := range []struct {
		name   string
		change func(c *models.OAuthClient)
		same   bool
	}{
		{"identical", func(c *models.OAuthClient) {}, true},
		{"secret hash", func(c *models.OAuthClient) { c.Secrets[0].Hash = []byte("other") }, true},
		{"registration token", func(c *models.OAuthClient) { c.RegistrationTokenHash = []byte("reg") }, true},
		{"time in UTC elsewhere", func(c *models.OAuthClient) { c.Created = c.Created.In(time.FixedZone("Z", 0)) }, true},
		{"time in another zone", func(c *models.OAuthClient) { c.Modified = c.Modified.In(paris) }, false},
		{"nanoseconds", func(c *models.OAuthClient) { c.Secrets[0].Created = c.Secrets[0].Created.Add(1) }, false},
		{"expiry gone", func(c *models.OAuthClient) { c.Secrets[0].Expires = nil }, false},
		{"nil array", func(c *models.OAuthClient) { c.RedirectURIs = nil }, false},
		{"element", func(c *models.OAuthClient) { c.Scope = []string{"other"} }, false},
		{"description", func(c *models.OAuthClient) { e := "e"; c.Description = &e }, false},
		{"keys", func(c *models.OAuthClient) { c.JWKS = models.KeySet(`{"keys": []}`) }, false},
		{"no keys", func(c *models.OAuthClient) { c.JWKS = nil }, false},
		{"generation", func(c *models.OAuthClient) { c.TokenGeneration++ }, false},
		{"flag", func(c *models.OAuthClient) { c.Internal = !c.Internal }, false},
	} {
		a := base.Clone()
		b := base.Clone()
		v.change(&b)
		ja, jb := eventJSON(t, &a), eventJSON(t, &b)
		if got := sameEventJSON(&a, &b); got != v.same || got && ja != jb {
			t.Errorf("%s: sameEventJSON says %v\n%s\n%s", v.name, got, ja, jb)
		}
	}
}

// An update whose result is not stored as it was given (a time to the
// nanosecond, in a zone: its column keeps milliseconds in UTC) records that
// result as its after, and the next update's before is the client as
// stored, not that after again.
func TestCachedBeforeIsTheStoredClient(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c := newClient(hexID(1), "stored")
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		odd := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 5400))
		for i, change := range []func(*models.OAuthClient){
			func(x *models.OAuthClient) { x.Name = "cached" },
			func(x *models.OAuthClient) { x.Secrets[0].Created = odd; x.Secrets[0].Expires = &odd },
			func(x *models.OAuthClient) { x.Name = "after the odd one" },
			func(x *models.OAuthClient) { x.Name = "and once more" },
		} {
			stored, err := s.GetClient(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
				change(x)
				return nil
			}, models.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before, after := eventColumnsOf(t, s, c.ID)
			last := len(before) - 1
			if want := eventJSON(t, &stored); before[last] == nil || *before[last] != want {
				t.Errorf("change %d: before\n%v\nwant\n%s", i, before[last], want)
			}
			if want := eventJSON(t, &got); after[last] == nil || *after[last] != want {
				t.Errorf("change %d: after\n%v\nwant\n%s", i, after[last], want)
			}
			checkCached(t, s, c.ID)
		}
	})
}

func BenchmarkSameEventJSON(b *testing.B) {
	c := newClient(hexID(1), "bench")
	c.RedirectURIs = []string{"https://a.example/cb", "https://b.example/cb"}
	d := c.Clone()
	b.ReportAllocs()
	for b.Loop() {
		if !sameEventJSON(&c, &d) {
			b.Fatal("not the same")
		}
	}
}

func BenchmarkEncodeState(b *testing.B) {
	c := newClient(hexID(1), "bench")
	c.RedirectURIs = []string{"https://a.example/cb", "https://b.example/cb"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeState(&c); err != nil {
			b.Fatal(err)
		}
	}
}
