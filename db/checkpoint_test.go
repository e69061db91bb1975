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
	const commits = 16 * checkpointCommits
	for i := range commits {
		if _, err := s.UpdateClient(ctx, hexID(1), func(c *models.OAuthClient) error {
			d := fmt.Sprintf("revision %d", i)
			c.Description = &d
			return nil
		}, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The last kick may still be running; every kick before it has run.
	for deadline := time.Now().Add(10 * time.Second); s.ckpt.runs.Load() < commits/checkpointCommits-1 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if runs := s.ckpt.runs.Load(); runs < commits/checkpointCommits-1 {
		t.Fatalf("%d background checkpoints after %d commits", runs, commits)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("database file %d → %d bytes, WAL %d bytes", before.Size(), after.Size(), wal.Size())
	if grown := after.Size() - before.Size(); grown < 256<<10 {
		t.Errorf("the database file grew by %d bytes in %d commits: the WAL was not checkpointed into it", grown, commits)
	}
}
