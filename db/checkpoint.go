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
// A group commit on SQLite writes about 10–20 pages, so this copies a few
// hundred pages at a time. Checkpointing less often (every 64, 256 or
// 512 commits) left more for the writer's own checkpoint: with 512, commits of
// 16 ms and more came back, and PATCH's p99 was 30–50 ms.
const checkpointCommits = 32

// writerCheckpointPages is the WAL size, in pages, at which the writer
// checkpoints by itself (about 64 MiB). The background checkpoints copy
// every frame but seldom let the WAL start over (writes keep coming while
// they run), so the writer's own checkpoint is what starts it over, and
// every write waits while it syncs the WAL and the database file: two
// fsyncs of 3–8 ms each on the machine BENCHMARKS.md was measured on, more
// the more the database file has to sync. So it comes seldom (each 2 000
// pages it came a dozen times a second with PATCH spread over 1 000
// clients), and the background syncs the database file as the WAL nears
// this size (syncMarks), which leaves the writer little to sync. Measured
// with `go run ./bench` (4 s, alternated three times), PATCH spread over
// 1 000 clients had p99 15.6–19.8 ms at 2 000 pages and 64 commits a
// background checkpoint, and 11.4–12.0 ms here, at the same rate.
const writerCheckpointPages = 16_000

// syncMarks are the WAL sizes, in eighths of writerCheckpointPages, past
// which a background checkpoint syncs the database file: once each until
// the WAL starts over. A checkpoint syncs the database file only when it
// has copied the whole WAL, which under steady writes is the writer's
// checkpoint alone; without these the writer's fsync carried everything
// the background had copied since the last restart, and took 8–16 ms.
// Syncing after every background checkpoint took as much off the tail but
// cost PATCH a tenth more CPU (each hot page written out again and again).
var syncMarks = [...]int{4, 7}

// sqliteWriterDriver is go-sqlite3 with the writer's own settings made on
// every connection it opens (no DSN option makes them):
//   - its automatic checkpoint, at writerCheckpointPages;
//   - temporary storage in memory. A group commit's statements each keep a
//     statement journal (the pages they change that the transaction had
//     changed already), and past 64 KiB SQLite moves it to a temporary file:
//     under PATCH spread over 1 000 clients the writer created, wrote and
//     unlinked one in /var/tmp dozens of times a second. In memory it costs
//     no system call, and a write no longer needs a writable temporary
//     directory. The writer's statements are small, so the journal is too.
//     Readers keep the default: a large sort of theirs may still spill.
const sqliteWriterDriver = "clientele-sqlite3-writer"

// writerPragmas are run, in order, on every connection of the writer.
var writerPragmas = []string{
	fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", writerCheckpointPages),
	"PRAGMA temp_store = MEMORY",
}

func init() {
	sql.Register(sqliteWriterDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			for _, p := range writerPragmas {
				if _, err := c.Exec(p, nil); err != nil {
					return err
				}
			}
			return nil
		},
	})
}

// checkpointer runs the background checkpoints of one store.
type checkpointer struct {
	db *sql.DB
	// syncDB syncs the database file (file.Sync); restartPages is the
	// writer's checkpoint threshold. Tests set their own.
	syncDB       func() error
	restartPages int
	commits      atomic.Int64
	kick         chan struct{}
	stop         chan struct{}
	wg           sync.WaitGroup
	// runs counts the checkpoints run, for tests.
	runs atomic.Int64
	// Owned by the loop: the WAL's size after the last checkpoint, and
	// how many of syncMarks it has passed since the WAL started over.
	walPages, marksSynced int
}

// startCheckpointer starts checkpointing on db, a pool of the same
// database file as the writer's, syncing that file with syncDB.
func startCheckpointer(db *sql.DB, syncDB func() error) *checkpointer {
	c := &checkpointer{
		db: db, syncDB: syncDB, restartPages: writerCheckpointPages,
		kick: make(chan struct{}, 1), stop: make(chan struct{}),
	}
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
		c.checkpoint()
	}
}

// checkpoint runs one PASSIVE checkpoint, then syncs the database file if
// the WAL has passed a mark of syncMarks since it last did. An error (the
// database closing, a busy reader) leaves the WAL to the next checkpoint
// or to the writer's safety net, and the sync to the writer's checkpoint.
func (c *checkpointer) checkpoint() {
	defer c.runs.Add(1)
	var busy, walPages, copied int
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &walPages, &copied)
	if err != nil {
		return
	}
	if walPages < c.walPages {
		c.marksSynced = 0 // the WAL started over
	}
	c.walPages = walPages
	passed := 0
	for _, m := range syncMarks {
		if walPages >= c.restartPages*m/8 {
			passed++
		}
	}
	if passed > c.marksSynced && c.syncDB != nil {
		if c.syncDB() == nil {
			c.marksSynced = passed
		}
	}
}

// close stops the loop, after the checkpoint under way if any.
func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	return nil
}
