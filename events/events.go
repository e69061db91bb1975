// Package events is the record of every change to an OAuth client (SPEC
// §10): the event a write appends in its own transaction, who made it, and
// the exact JSON Patch between two representations. It knows no HTTP and no
// storage.
package events

import (
	"context"
	"time"

	"github.com/clientele/clientele/models"
)

// Type is what a write did to a client.
type Type string

// Event types of SPEC §10.
const (
	Created       Type = "created"
	Patched       Type = "patched"
	Replaced      Type = "replaced"
	SecretAdded   Type = "secretAdded"
	SecretDeleted Type = "secretDeleted"
	SecretRotated Type = "secretRotated"
	Deleted       Type = "deleted"
	Restored      Type = "restored"
)

// Types lists every type, in the order of SPEC §10.
var Types = []Type{Created, Patched, Replaced, SecretAdded, SecretDeleted, SecretRotated, Deleted, Restored}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// BootstrapActor is the actor of the writes that start-up makes.
const BootstrapActor = "bootstrap"

// Event is one change as the store keeps it. Before and After are the
// client as it was and as it became (nil for none: Before of a create,
// After of a delete), without secret values; the wire form (ETags and the
// patch between the two representations) is derived from them, so the
// record holds facts, not renderings.
type Event struct {
	// Seq increases in commit order: a reader that has seen Seq n has seen
	// every committed event below n.
	Seq        int64
	ID         string
	Type       Type
	ClientID   string
	Actor      string
	TrackingID string
	Time       time.Time
	Before     *models.OAuthClient
	After      *models.OAuthClient
}

// State is the client right after the event: After, or for a deletion the
// last state the client had. Restore brings a client back to it.
func (e *Event) State() *models.OAuthClient {
	if e.After != nil {
		return e.After
	}
	return e.Before
}

// Origin says who asked for a write: the caller's client id and the
// request's trackingId. Type, when set, names what the write is; a store
// update without one records Patched.
type Origin struct {
	Actor      string
	TrackingID string
	Type       Type
}

type originKey struct{}

// WithOrigin returns ctx carrying o for the store's event writer.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// WithType returns ctx whose origin names the write's type t.
func WithType(ctx context.Context, t Type) context.Context {
	o := OriginFrom(ctx)
	o.Type = t
	return WithOrigin(ctx, o)
}

// OriginFrom returns the origin ctx carries; without one, the zero Origin
// (an empty actor: a write no caller asked for).
func OriginFrom(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
