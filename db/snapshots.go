package db

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"
	"time"

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
// client as reading its row gives it (asStoredOver), so an answer or an ETag
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
	// json is c's event JSON (encodeSnapshot(snapshot(&c))), or nil when
	// it is not known.
	json *string
}

// get returns id's entry. Entries are never changed in place (put
// replaces them whole), so the entry itself is handed out, not a copy:
// the caller must not change it, and gives fn a Clone of it (plan).
func (sc *snapshotCache) get(id string) (models.OAuthClient, int64, bool) {
	e, ok := sc.entry(id)
	return e.c, e.version, ok
}

// entry is id's entry whole, as get gives it.
func (sc *snapshotCache) entry(id string) (cachedSnapshot, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, ok := sc.m[id]
	return e, ok
}

// put remembers c, written at version by updateChanged(base, c, …) over
// base's row, base being the client as stored at the version before (or c
// itself when nothing was written), unless a newer version is known. The
// entry shares memory with base: neither may be changed afterwards.
// cJSON, when not nil, is c's event JSON; the entry keeps it when the
// entry provably encodes alike (sameEventJSON), so that the next batch's
// first event need not encode its before again. A full cache forgets an
// entry it picks at random (Go's map order).
func (sc *snapshotCache) put(base, c *models.OAuthClient, version int64, cJSON *string) {
	stored, err := asStoredOver(base, c)
	if err != nil {
		sc.drop(c.ID)
		return
	}
	var j *string
	if cJSON != nil && sameEventJSON(&stored, c) {
		j = cJSON
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
	sc.m[c.ID] = cachedSnapshot{c: stored, version: version, json: j}
}

func (sc *snapshotCache) drop(id string) {
	sc.mu.Lock()
	delete(sc.m, id)
	sc.mu.Unlock()
}

// asStoredOver is c as reading its row back gives it after
// updateChanged(base, c, …) wrote it over base's row, base being as
// stored. The columns updateChanged left alone (the fixed ones, and those
// equal in base and c, which then hold the same column value) still hold
// base's values, so they are base's, shared rather than copied; only the
// columns written go through the round trip: their value as written,
// loaded again. Each load sets its member's field whole, never changing
// what base's field points to.
func asStoredOver(base, c *models.OAuthClient) (models.OAuthClient, error) {
	out := *base
	if base == c {
		return out, nil
	}
	for _, col := range readColumns {
		if col.fixed || col.equal(base, c) {
			continue
		}
		v, err := cellOf(col.value(c))
		if err != nil {
			return models.OAuthClient{}, fmt.Errorf("%s: %w", col.name, err)
		}
		if err := col.load(&out, &v); err != nil {
			return models.OAuthClient{}, fmt.Errorf("%s: %w", col.name, err)
		}
	}
	return out, nil
}

// cellOf is a column's value as written (clientColumn.value) as a read
// gives it to load.
func cellOf(v any) (cell, error) {
	switch v := v.(type) {
	case nil:
		return cell{}, nil
	case string:
		return cell{v: models.Cell{Valid: true, Text: v}}, nil
	case *string:
		if v == nil {
			return cell{}, nil
		}
		return cell{v: models.Cell{Valid: true, Text: *v}}, nil
	case int64:
		return cell{v: models.Cell{Valid: true, Int: v}}, nil
	case *int64:
		if v == nil {
			return cell{}, nil
		}
		return cell{v: models.Cell{Valid: true, Int: *v}}, nil
	case bool:
		return cell{v: models.Cell{Valid: true, Bool: v}}, nil
	case []byte:
		// A blob, as cell.Scan keeps it: a copy of its own.
		return cell{v: models.Cell{Valid: true}, raw: bytes.Clone(v)}, nil
	}
	return cell{}, fmt.Errorf("unexpected %T", v)
}

// sameEventJSON reports whether a and b encode alike as events record them
// (encodeSnapshot(snapshot(…))), without encoding them: every field
// encoding/json writes, by what it writes. Strings, numbers and booleans
// compare by value; pointers and slices by nil-ness and what they hold;
// times by instant and zone offset, all that RFC 3339 shows. The fields no
// event holds are skipped: json:"-" ones and the secrets' hashes. Any other
// kind of field counts as different: the answer may be a false no, which
// costs one encoding, never a false yes.
func sameEventJSON(a, b *models.OAuthClient) bool {
	return sameJSON(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem())
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	secretType = reflect.TypeFor[models.Secret]()
	// jsonFields are, for each struct type an OAuthClient holds (times
	// aside), the indexes of the fields sameJSON compares: the exported
	// ones an event encodes.
	jsonFields = func() map[reflect.Type][]int {
		out := map[reflect.Type][]int{}
		var collect func(t reflect.Type)
		collect = func(t reflect.Type) {
			switch t.Kind() {
			case reflect.Pointer, reflect.Slice:
				collect(t.Elem())
				return
			case reflect.Struct:
			default:
				return
			}
			if _, done := out[t]; done || t == timeType {
				return
			}
			out[t] = nil
			var idx []int
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() || f.Tag.Get("json") == "-" || t == secretType && f.Name == "Hash" {
					continue
				}
				idx = append(idx, i)
				collect(f.Type)
			}
			out[t] = idx
		}
		collect(reflect.TypeFor[models.OAuthClient]())
		return out
	}()
)

func sameJSON(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		return sameJSON(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		if a.Type().Elem().Kind() == reflect.Uint8 {
			return bytes.Equal(a.Bytes(), b.Bytes())
		}
		for i := 0; i < a.Len(); i++ {
			if !sameJSON(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if a.Type() == timeType {
			x, y := a.Addr().Interface().(*time.Time), b.Addr().Interface().(*time.Time)
			_, xo := x.Zone()
			_, yo := y.Zone()
			return x.Equal(*y) && xo == yo
		}
		fields, ok := jsonFields[a.Type()]
		if !ok {
			return false
		}
		for _, i := range fields {
			if !sameJSON(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return false
}
