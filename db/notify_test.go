package db

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
)

// TestListenHearsOtherServers: token events and key changes committed by
// one store are announced to another's listener, which reconnects by
// itself when its backend is killed.
func TestListenHearsOtherServers(t *testing.T) {
	u := pgtest.URL(t)
	a, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	heard := make(chan string, 16)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Listen(lctx, func(p string) { heard <- p }, func(error) {})
	}()
	defer func() { stop(); <-done }()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-heard:
			if got != want {
				t.Fatalf("heard %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing heard, want %q", want)
		}
	}
	expect(NotifyReconnected)
	now := time.Now()
	if err := a.RevokeToken(ctx, models.TokenEvent{ClientID: "c", JTI: "j", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	expect(NotifyTokens)
	if err := a.AddSigningKey(ctx, models.SigningKey{KID: "k", Algorithm: "ES256", PrivateKey: []byte{1},
		State: models.KeyActive, Created: now, Activates: now}); err != nil {
		t.Fatal(err)
	}
	expect(NotifyKeys)
	// A client's write announces its events, once a transaction.
	if _, err := a.CreateClient(ctx, newClient(hexID(1), "heard"), models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(NotifyEvents)
	if _, err := a.UpdateClient(ctx, hexID(1), func(c *models.OAuthClient) error {
		c.Name = "heard again"
		return nil
	}, models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(NotifyEvents)
	// A write that fails announces nothing.
	if err := a.AddSigningKey(ctx, models.SigningKey{KID: "k2", Algorithm: "ES256", PrivateKey: []byte{1},
		State: models.KeyActive, Created: now, Activates: now}); err == nil {
		t.Fatal("a second active key was added")
	}

	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed int
	if err := conn.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
		ListenApplicationName).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listeners (%v), want 1", killed, err)
	}
	expect(NotifyReconnected)
	if err := a.RevokeToken(ctx, models.TokenEvent{ClientID: "c", JTI: "j2", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	expect(NotifyTokens)
}
