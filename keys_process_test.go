package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clientele/clientele/internal/pgtest"
)

// kidOfToken is the kid in a compact JWS's header.
func kidOfToken(t *testing.T, raw string) string {
	t.Helper()
	hb, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(hb, &h)
	return h.Kid
}

func (c *client) jwksKids() []string {
	c.t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	r := c.must(http.MethodGet, "/.well-known/jwks.json", "", "", 200)
	_ = json.Unmarshal(r.body, &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestKeyRotationAcrossServers runs two servers on one PostgreSQL and
// rotates the signing key on one of them.
func TestKeyRotationAcrossServers(t *testing.T) {
	dbURL := pgtest.URL(t)
	const lead = 4 * time.Second
	env := []string{"CLIENTELE_ISSUER=http://clientele.test", "CLIENTELE_KEY_PUBLISH_LEAD=" + lead.String(),
		"CLIENTELE_KEY_ENCRYPTION_KEY=process-test-encryption-key-0123456789"}
	a := startProc(t, dbURL, env...)
	b := startProc(t, dbURL, env...)
	ca, cb := a.client(), b.client()
	first := kidOfToken(t, ca.token)

	// Two rotations at the same instant, one on each server: one next key.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	var rotated map[string]any
	for n, c := range []*client{ca, cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.do(http.MethodPost, "/signing-keys/rotate", "", "")
			if err != nil {
				t.Error(err)
				return
			}
			statuses[n] = r.status
			if r.status == 201 {
				rotated = r.object()
			}
		}()
	}
	wg.Wait()
	if !(statuses[0] == 201 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 201) {
		t.Fatalf("concurrent rotations answered %v, want one 201 and one 409", statuses)
	}
	next := rotated["kid"].(string)
	activates, _ := time.Parse(time.RFC3339, rotated["activates"].(string))
	var keys []map[string]any
	_ = json.Unmarshal(cb.must(http.MethodGet, "/signing-keys", "", "", 200).body, &keys)
	nexts := 0
	for _, k := range keys {
		if k["state"] == "next" {
			nexts++
		}
	}
	if nexts != 1 {
		t.Errorf("%d next keys after concurrent rotations: %v", nexts, keys)
	}

	// Both servers publish the next key before anything is signed with it.
	for _, c := range []*client{ca, cb} {
		deadline := time.Now().Add(lead)
		for !contains(c.jwksKids(), next) {
			if time.Now().After(deadline) {
				t.Fatalf("%s does not publish the next key", c.base)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if time.Now().After(activates) {
		t.Fatalf("the test was too slow to see the next key published before it activated")
	}
	for _, c := range []*client{ca, cb} {
		if kid := kidOfToken(t, c.fetchToken(testAdminID, testAdminSecret)); kid != first {
			t.Errorf("%s signs with %s before activation, want %s", c.base, kid, first)
		}
	}
	// Every server signs with the new key within 5 s of the switch.
	time.Sleep(time.Until(activates))
	for _, c := range []*client{ca, cb} {
		for {
			if kid := kidOfToken(t, c.fetchToken(testAdminID, testAdminSecret)); kid == next {
				t.Logf("%s signs with the new key %v after the switch", c.base, time.Since(activates).Round(time.Millisecond))
				break
			}
			if time.Since(activates) > 5*time.Second {
				t.Fatalf("%s still signs with the old key 5 s after the switch", c.base)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A token of the retired key still works on both servers.
	for _, c := range []*client{ca, cb} {
		old := &client{t: t, base: c.base, token: ca.token, hc: http.DefaultClient}
		old.must(http.MethodGet, "/oauth-clients?limit=1", "", "", 200)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = json.Unmarshal(ca.must(http.MethodGet, "/signing-keys", "", "", 200).body, &keys)
		if len(keys) == 2 && keys[0]["kid"] == first && keys[0]["state"] == "retired" && keys[1]["state"] == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys after the switch: %v", keys)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Private keys are sealed at rest and appear in no answer or log.
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT kid, private_key, encrypted FROM signing_keys")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kid string
		var blob []byte
		var encrypted bool
		if err := rows.Scan(&kid, &blob, &encrypted); err != nil {
			t.Fatal(err)
		}
		if _, err := x509.ParsePKCS8PrivateKey(blob); err == nil || !encrypted {
			t.Errorf("key %s is stored readable", kid)
		}
		tail := base64.StdEncoding.EncodeToString(blob[len(blob)-24:])
		for _, p := range []*proc{a, b} {
			if strings.Contains(p.stdout.String()+p.stderr.String(), tail) {
				t.Errorf("key material of %s in the log", kid)
			}
		}
	}
	for _, p := range []*proc{a, b} {
		if strings.Contains(p.stderr.String(), "stored unencrypted") {
			t.Errorf("warned of unencrypted keys although they are encrypted")
		}
	}
}

// TestUnencryptedKeysAreSaidOnce: without CLIENTELE_KEY_ENCRYPTION_KEY,
// start-up says once that keys are stored unencrypted.
func TestUnencryptedKeysAreSaidOnce(t *testing.T) {
	p := startProc(t, "sqlite://:memory:")
	if n := strings.Count(p.stderr.String(), "CLIENTELE_KEY_ENCRYPTION_KEY is not set"); n != 1 {
		t.Errorf("said %d times:\n%s", n, p.stderr)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
