package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mattn/go-sqlite3"
)

// Checkpoints of SQLite's write-ahead log, off the writer's turn.
//
// Every commit appends the pages it changed to the WAL; a checkpoint copies
// them back into the database file, syncing both, so that the WAL can start
// over. By itself SQLite runs one in the connection that commits, whenever
// the WAL passes 1 000 pages: inside the writer's turn, so that every few
// dozen group commits one of them, and every request it carries, waited for
// a checkpoint and its syncs. Measured with `go run ./bench` (wrk, 16
// connections, SQLite, 1 000 clients), the writer not checkpointing took
// PATCH's p99 from 16.8 to 8.0 ms on one hot client and from 17.5 to 10.7 ms
// spread over 1 000, with 12–25 % more requests a second.
//
// So the writer's own checkpoint is pushed back (writerCheckpointPages),
// and a goroutine runs a PASSIVE checkpoint on a
// connection of the reader pool after every checkpointCommits commits. A
// PASSIVE checkpoint waits for neither the writer nor the readers: commits
// go on while it copies. When it cannot finish — a reader still needs the
// frames it would overwrite — the next one goes on from there. The
// writer's own checkpoint then finds little left to copy.

// checkpointCommits is how many commits a background checkpoint follows.
// A group commit on SQLite writes about 10–20 pages, so this keeps near
// SQLite's own rhythm of 1 000 pages.
const checkpointCommits = 64

// writerCheckpointPages is the WAL size, in pages, at which the writer
// checkpoints by itself (about 8 MiB). The background checkpoints copy
// every frame but seldom let the WAL start over (writes keep coming while
// they run), so the writer's own checkpoint is what starts it over, and
// while it runs every write waits, the longer the larger the WAL: up to
// 38 ms at 10 000 pages, and p99 over 120 ms at 100 000. Measured with
// `go run ./bench` (6 s, alternated), PATCH on one hot client had p99
// 13-18 ms at 10 000 pages and 9.4-10.2 ms at 2 000, at the same rate.
const writerCheckpointPages = 2_000

// sqliteWriterDriver is go-sqlite3 with the writer's own automatic
// checkpoint set on every connection it opens (no DSN option sets it).
const sqliteWriterDriver = "clientele-sqlite3-writer"

func init() {
	sql.Register(sqliteWriterDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", writerCheckpointPages), nil)
			return err
		},
	})
}

// checkpointer runs the background checkpoints of one store.
type checkpointer struct {
	db      *sql.DB
	commits atomic.Int64
	kick    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	// runs counts the checkpoints run, for tests.
	runs atomic.Int64
}

// startCheckpointer starts checkpointing on db, a pool of the same
// database file as the writer's.
func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// committed counts a commit and wakes the loop after every
// checkpointCommits of them. It never waits.
func (c *checkpointer) committed() {
	if c.commits.Add(1)%checkpointCommits != 0 {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// An error (the database closing, a busy reader) leaves the
		// WAL to the next checkpoint or to the writer's safety net.
		_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		c.runs.Add(1)
	}
}

// close stops the loop, after the checkpoint under way if any.
func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	return nil
}
