package db

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clientele/clientele/models"
)

// The writer leaves checkpoints to the background: its own automatic
// checkpoint waits for a WAL of writerCheckpointPages, while every
// checkpointCommits commits start a PASSIVE one elsewhere, which keeps the
// WAL small.
func TestCheckpointsRunOffTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pages int
	if err := s.wdb.QueryRow("PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != writerCheckpointPages {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want %d", pages, err, writerCheckpointPages)
	}
	if _, err := s.CreateClient(ctx, newClient(hexID(1), "ckpt"), models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Each update rewrites the client's row, index entries and an event, a
	// few pages a commit: short of the writer's own threshold in all, so
	// only the background checkpoints can bring them into the database
	// file.
	const commits = 2 * checkpointCommits
	for i := range commits {
		if _, err := s.UpdateClient(ctx, hexID(1), func(c *models.OAuthClient) error {
			d := fmt.Sprintf("revision %d", i)
			c.Description = &d
			return nil
		}, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Kicks that come while a checkpoint runs make one more checkpoint
	// after it (the kick channel holds one), so one starts after the last
	// kick, however slowly they ran: the database file ends up holding
	// the commits. The file grows while a checkpoint copies, before the
	// checkpoint counts itself, so the wait is for both.
	var after os.FileInfo
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if after, err = os.Stat(path); err != nil {
			t.Fatal(err)
		}
		if after.Size()-before.Size() >= 128<<10 && s.ckpt.runs.Load() >= 1 || time.Now().After(deadline) {
			break
		}
	}
	if runs := s.ckpt.runs.Load(); runs < 1 {
		t.Fatalf("no background checkpoint after %d commits", commits)
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("database file %d → %d bytes, WAL %d bytes", before.Size(), after.Size(), wal.Size())
	if grown := after.Size() - before.Size(); grown < 128<<10 {
		t.Errorf("the database file grew by %d bytes in %d commits: the WAL was not checkpointed into it", grown, commits)
	}
}
