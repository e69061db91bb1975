package db

import (
	"errors"
	"testing"
	"time"

	"github.com/clientele/clientele/clientkeys"
)

// An assertion's jti is accepted once per client until it expires; then
// it may be recorded again, with its new expiry. Another client's jti of
// the same value is its own.
func TestRecordAssertion(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return now }
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(time.Minute)); err != nil {
			t.Fatalf("first use: %v", err)
		}
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(time.Minute)); !errors.Is(err, clientkeys.ErrReplayed) {
			t.Fatalf("the same jti again: %v, want ErrReplayed", err)
		}
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(5*time.Minute)); !errors.Is(err, clientkeys.ErrReplayed) {
			t.Fatalf("the same jti with a later expiry: %v, want ErrReplayed", err)
		}
		if err := s.RecordAssertion(ctx, "c2", "j1", now.Add(time.Minute)); err != nil {
			t.Fatalf("another client's jti: %v", err)
		}
		// At its expiry the record guards nothing: the jti is recorded
		// anew, and guards until its new expiry.
		now = now.Add(time.Minute)
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(2*time.Minute)); err != nil {
			t.Fatalf("the jti after its record expired: %v", err)
		}
		now = now.Add(time.Minute)
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(time.Minute)); !errors.Is(err, clientkeys.ErrReplayed) {
			t.Fatalf("the jti before its new record expired: %v, want ErrReplayed", err)
		}
		if p := s.prepared.Load(); p == nil || (*p)[recordAssertionSQL] == nil {
			t.Error("the assertion's statement is not among the prepared writes")
		}
		var n int
		if err := s.wdb.QueryRow("SELECT count(*) FROM client_assertions").Scan(&n); err != nil || n != 2 {
			t.Errorf("%d records (%v), want 2", n, err)
		}
	})
}
