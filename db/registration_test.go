package db

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

// TestRegistrationTokenHash stores, reads, rotates and forgets a client's
// registration access token hash (SPEC §12): it is a stored value, so a
// rotation alone is a change, and no event ever holds it.
func TestRegistrationTokenHash(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		first, second := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
		c := newClient(hexID(1), "registered")
		c.RegistrationTokenHash = first
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		plain := newClient(hexID(2), "managed")
		if _, err := s.CreateClient(ctx, plain, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.RegistrationTokenHash, first) {
			t.Fatalf("hash read back %x", got.RegistrationTokenHash)
		}
		if got, _ := s.GetClient(ctx, plain.ID); got.RegistrationTokenHash != nil {
			t.Errorf("a client registered otherwise has hash %x", got.RegistrationTokenHash)
		}
		listed, _, err := s.ListClients(ctx, query.List{Limit: 10})
		if err != nil || len(listed) != 2 || !bytes.Equal(listed[0].RegistrationTokenHash, first) {
			t.Fatalf("list: %v %v", err, listed)
		}

		ctxReplaced := events.WithOrigin(ctx, events.Origin{Actor: c.ID, Type: events.Replaced})
		updated, err := s.UpdateClient(ctxReplaced, c.ID, func(cur *models.OAuthClient) error {
			cur.RegistrationTokenHash = second
			return nil
		}, models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if updated.Modified.Before(got.Modified) {
			t.Errorf("modified went back: %v -> %v", got.Modified, updated.Modified)
		}
		if got, _ := s.GetClient(ctx, c.ID); !bytes.Equal(got.RegistrationTokenHash, second) {
			t.Errorf("after rotation the hash is %x", got.RegistrationTokenHash)
		}
		history, err := s.ClientHistory(ctx, c.ID, 10, 0)
		if err != nil || len(history) != 2 || history[0].Type != events.Replaced || history[0].Actor != c.ID {
			t.Fatalf("history %v %+v", err, history)
		}
		for _, ev := range history {
			for _, st := range []*models.OAuthClient{ev.Before, ev.After} {
				if st != nil && st.RegistrationTokenHash != nil {
					t.Errorf("event %d holds the hash", ev.Seq)
				}
			}
		}
		// The stored events themselves, as text.
		var stored []string
		if err := s.r.WithContext(ctx).Raw("SELECT COALESCE(before, '') || COALESCE(after, '') FROM client_events").Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		for _, text := range stored {
			if strings.Contains(text, "AQEBAQEB") || strings.Contains(text, "AgICAgIC") || strings.Contains(text, "Registration") {
				t.Errorf("a stored event holds the hash: %s", text)
			}
		}
	})
}
