package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/models"
)

// feedMemory shows that the server's memory does not grow with the events
// the store keeps (issue 14 item 6): for each count, a store holding that
// many events, a server started on it, and 10 Server-Sent Events followers
// reading the whole feed from the start at once; the server's resident
// memory before and its high-water mark after, side by side.
func feedMemory(bin, work string, counts []int) error {
	fmt.Printf("## Feed memory: %d SSE followers reading every event from the start\n\n", feedFollowers)
	fmt.Printf("load average before: %s\n\n", loadAverages())
	fmt.Println("| events stored | seeded in | server RSS before | peak RSS, followers done | read in |")
	fmt.Println("|---:|---:|---:|---:|---:|")
	for _, n := range counts {
		dbURL := "sqlite://" + filepath.Join(work, fmt.Sprintf("feedmem-%d.db", n))
		began := time.Now()
		if err := seedEvents(dbURL, n); err != nil {
			return fmt.Errorf("seeding %d events: %w", n, err)
		}
		seeded := time.Since(began)
		srv, err := start(bin, dbURL, "")
		if err != nil {
			return err
		}
		admin, err := token(srv.base, adminID, adminSecret)
		if err != nil {
			srv.stop()
			return err
		}
		auth := "Bearer " + admin
		end, err := latestSeqAfter(srv.base, auth, int64(n-100))
		if err != nil {
			srv.stop()
			return err
		}
		before := srv.rss()
		began = time.Now()
		got, err := readAll(srv.base, auth, end)
		took := time.Since(began)
		peak := srv.peakRSS()
		srv.stop()
		if err != nil {
			return err
		}
		for f, c := range got {
			if c != end {
				return fmt.Errorf("%d events: follower %d got %d of %d", n, f, c, end)
			}
		}
		fmt.Printf("| %d | %v | %.1f MiB | %.1f MiB | %v |\n", end, seeded.Round(time.Second), before, peak, took.Round(time.Millisecond))
	}
	fmt.Printf("\nload average after: %s\n\n", loadAverages())
	return nil
}

// seedEvents makes a store with n events: 100 clients created, each then
// changed until the store holds n events, through the store as the server
// would.
func seedEvents(dbURL string, n int) error {
	ctx := context.Background()
	s, err := db.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer s.Close()
	const clients = 100
	var ids []string
	for i := 0; i < clients; i++ {
		c := models.NewClient()
		c.ID = fmt.Sprintf("%032x", i+1)
		c.Name = fmt.Sprintf("feedmem-%03d", i)
		c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
		c.Scope = []string{models.ScopeRead}
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			return err
		}
		ids = append(ids, c.ID)
	}
	var next atomic.Int64
	next.Store(clients)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				d := "change " + strconv.FormatInt(i, 10)
				if _, err := s.UpdateClient(ctx, id, func(c *models.OAuthClient) error { c.Description = &d; return nil }, models.WriteOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// readAll has feedFollowers streams read the feed from its start to end at
// once and returns how many events each got.
func readAll(base, auth string, end int64) ([]int64, error) {
	w, err := watch(base, auth, 0, 0)
	if err != nil {
		return nil, err
	}
	defer w.close()
	deadline := time.Now().Add(5 * time.Minute)
	for _, f := range w.followers {
		for time.Now().Before(deadline) {
			if m, _ := f.missing(0, end); m == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	got := make([]int64, len(w.followers))
	for i, f := range w.followers {
		f.mu.Lock()
		got[i] = int64(len(f.seen))
		f.mu.Unlock()
	}
	return got, nil
}

// rss is the server's resident memory now, in MiB.
func (s *server) rss() float64 { return s.status("VmRSS:") }
