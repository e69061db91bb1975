package db

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clientele/clientele/models"
)

// openRevised opens a store on a SQLite file in a fresh directory, with
// one client, hexID(1), whose description revise changes, one update a
// call: a few pages of WAL a commit (its row, index entries and an event).
func openRevised(t *testing.T) (s *Store, path string, revise func(i int)) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "c.db")
	s, err := Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateClient(ctx, newClient(hexID(1), "ckpt"), models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	revise = func(i int) {
		t.Helper()
		if _, err := s.UpdateClient(ctx, hexID(1), func(c *models.OAuthClient) error {
			d := fmt.Sprintf("revision %d", i)
			c.Description = &d
			return nil
		}, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return s, path, revise
}

// The writer leaves checkpoints to the background: its own automatic
// checkpoint waits for a WAL of writerCheckpointPages, while every
// checkpointCommits commits start a PASSIVE one elsewhere, which keeps the
// WAL small.
func TestCheckpointsRunOffTheWriter(t *testing.T) {
	s, path, revise := openRevised(t)
	var pages int
	if err := s.wdb.QueryRow("PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != writerCheckpointPages {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want %d", pages, err, writerCheckpointPages)
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
		revise(i)
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

// As the WAL nears the writer's threshold, the background syncs the
// database file, once for each of syncMarks, and again after the WAL
// starts over: what it copied is then on disk before the writer's
// checkpoint, whose own sync would otherwise carry all of it.
func TestCheckpointsSyncTheDatabaseNearTheWritersThreshold(t *testing.T) {
	s, _, update := openRevised(t)
	rdb, _ := s.r.DB()
	// A read transaction left open keeps the WAL from starting over, as
	// steady writes do: with none, the checkpoint after each update would
	// copy everything and the next update start the WAL over.
	pin := func() *sql.Tx {
		t.Helper()
		tx, err := rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM oauth_clients").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	// A checkpointer of its own, run by hand beside the store's: its
	// threshold is a WAL of 80 pages, so it syncs past 40 and past 70.
	syncs := 0
	c := &checkpointer{db: rdb, restartPages: 80, syncDB: func() error { syncs++; return nil }}
	want := func() int {
		switch {
		case c.walPages >= 70:
			return 2
		case c.walPages >= 40:
			return 1
		}
		return 0
	}
	// The WAL starts over from the migrations' pages, and grows by a few
	// pages an update: past 40 and past 70 at different updates.
	if _, err := s.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	update(-1)
	reader := pin()
	for i := 0; c.walPages < 90; i++ {
		update(i)
		c.checkpoint()
		if syncs != want() {
			t.Fatalf("after update %d, WAL of %d pages: %d syncs, want %d", i, c.walPages, syncs, want())
		}
		if i == 1000 {
			t.Fatalf("the WAL did not grow past %d pages", c.walPages)
		}
	}
	// Started over, the WAL is synced again once it passes a mark.
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	update(-1)
	defer pin().Rollback()
	if c.checkpoint(); c.walPages >= 40 || syncs != 2 {
		t.Fatalf("after the WAL started over: WAL of %d pages, %d syncs, want under 40 pages and 2", c.walPages, syncs)
	}
	for i := 0; c.walPages < 45; i++ {
		update(i)
		c.checkpoint()
		if syncs != 2+want() {
			t.Fatalf("after the WAL started over, update %d, WAL of %d pages: %d syncs, want %d", i, c.walPages, syncs, 2+want())
		}
		if i == 1000 {
			t.Fatalf("the WAL did not grow past %d pages", c.walPages)
		}
	}
}

// The writer keeps its temporary storage (its statement journals) in
// memory; the readers keep SQLite's default, a file once it grows.
func TestWriterKeepsTemporaryStorageInMemory(t *testing.T) {
	s, _, _ := openRevised(t)
	for _, c := range []struct {
		name string
		db   *sql.DB
		want int
	}{{"writer", s.wdb, 2}, {"reader", s.ckpt.db, 0}} {
		var got int
		if err := c.db.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: temp_store = %d, want %d", c.name, got, c.want)
		}
	}
}
