package db

import (
	"fmt"
	"sync"

	"github.com/clientele/clientele/models"
)

// The snapshot cache: the latest state and row version this server knows
// of each recently updated client, which an update applies its batch to
// instead of reading the row first. It is filled by the updates' reads
// and commits. A stale entry — another server wrote the client, or a
// write of this one that does not go through UpdateClient — is harmless:
// every write of a client moves its row's version, so the
// compare-and-swap finds the row changed, the entry is dropped, and the
// batch applies again on a snapshot read from the store. Entries are the
// client as reading its row gives it (asStored), so an answer or an ETag
// computed from one is the one a read would give.

// maxSnapshots bounds the cache: about a kilobyte a client.
const maxSnapshots = 4096

type snapshotCache struct {
	mu sync.Mutex
	m  map[string]cachedSnapshot
}

type cachedSnapshot struct {
	c       models.OAuthClient
	version int64
}

// get returns a copy of id's entry.
func (sc *snapshotCache) get(id string) (models.OAuthClient, int64, bool) {
	sc.mu.Lock()
	e, ok := sc.m[id]
	sc.mu.Unlock()
	if !ok {
		return models.OAuthClient{}, 0, false
	}
	return e.c.Clone(), e.version, true
}

// put remembers c at version unless a newer version is known. A full
// cache forgets an entry it picks at random (Go's map order).
func (sc *snapshotCache) put(c *models.OAuthClient, version int64) {
	stored, err := asStored(c)
	if err != nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.m[c.ID]; ok && e.version > version {
		return
	}
	if sc.m == nil {
		sc.m = make(map[string]cachedSnapshot)
	}
	if _, ok := sc.m[c.ID]; !ok && len(sc.m) >= maxSnapshots {
		for id := range sc.m {
			delete(sc.m, id)
			break
		}
	}
	sc.m[c.ID] = cachedSnapshot{c: stored, version: version}
}

func (sc *snapshotCache) drop(id string) {
	sc.mu.Lock()
	delete(sc.m, id)
	sc.mu.Unlock()
}

// asStored is c as reading its row back gives it: every column's value as
// written, loaded again.
func asStored(c *models.OAuthClient) (models.OAuthClient, error) {
	var out models.OAuthClient
	for _, col := range readColumns {
		v, err := cellOf(col.value(c))
		if err != nil {
			return models.OAuthClient{}, fmt.Errorf("%s: %w", col.name, err)
		}
		if err := col.load(&out, &cell{st: col.storage, v: v}); err != nil {
			return models.OAuthClient{}, fmt.Errorf("%s: %w", col.name, err)
		}
	}
	return out, nil
}

// cellOf is a column's value as written (clientColumn.value) as a read
// gives it.
func cellOf(v any) (models.Cell, error) {
	switch v := v.(type) {
	case nil:
		return models.Cell{}, nil
	case string:
		return models.Cell{Valid: true, Text: v}, nil
	case *string:
		if v == nil {
			return models.Cell{}, nil
		}
		return models.Cell{Valid: true, Text: *v}, nil
	case int64:
		return models.Cell{Valid: true, Int: v}, nil
	case *int64:
		if v == nil {
			return models.Cell{}, nil
		}
		return models.Cell{Valid: true, Int: *v}, nil
	case bool:
		return models.Cell{Valid: true, Bool: v}, nil
	}
	return models.Cell{}, fmt.Errorf("unexpected %T", v)
}
