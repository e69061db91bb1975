package token

import (
	"context"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// KeyInfo is what may be shown of a signing key: never private material.
type KeyInfo struct {
	KID       string
	Algorithm string
	State     string
	Created   time.Time
	Activates time.Time
	// Retires is when the key stops (or stopped) signing; zero while no
	// successor is scheduled.
	Retires time.Time
}

// Rotate makes a new next key of the configured algorithm that activates
// after the publish lead. While a next key is pending it is a Conflict,
// so that servers rotating at once leave exactly one.
func (k *Keys) Rotate(ctx context.Context) (KeyInfo, error) {
	now := k.opts.Clock()
	nk, err := newSigningKey(k.opts.Algorithm, models.KeyNext, now, now.Add(k.opts.PublishLead), k.sealer)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := k.store.AddSigningKey(ctx, nk); err != nil {
		if apierrors.IsConflict(err) {
			_ = k.Reload(ctx)
			k.mu.RLock()
			at := k.upcomingAt
			k.mu.RUnlock()
			return KeyInfo{}, apierrors.NewConflict("a rotation is pending: the next key activates at " +
				at.UTC().Format(time.RFC3339) + "; rotate again after that")
		}
		return KeyInfo{}, err
	}
	if err := k.Reload(ctx); err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{KID: nk.KID, Algorithm: nk.Algorithm, State: nk.State, Created: nk.Created, Activates: nk.Activates}, nil
}

// List reads the keys from the store and returns them in the order they
// activate, with their state at the clock's now.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	return k.list(k.opts.Clock()), nil
}

func (k *Keys) list(now time.Time) []KeyInfo {
	k.mu.RLock()
	defer k.mu.RUnlock()
	switched := k.upcoming != nil && !now.Before(k.upcomingAt)
	out := make([]KeyInfo, 0, len(k.stored))
	for _, sk := range k.stored {
		ki := KeyInfo{KID: sk.KID, Algorithm: sk.Algorithm, State: sk.State, Created: sk.Created,
			Activates: sk.Activates, Retires: sk.Retires}
		switch {
		case sk.State == models.KeyActive && k.upcoming != nil:
			ki.Retires = k.upcomingAt
			if switched {
				ki.State = models.KeyRetired
			}
		case sk.State == models.KeyNext && switched:
			ki.State = models.KeyActive
		}
		out = append(out, ki)
	}
	return out
}

// Maintain does one round of the key life at the clock's now: it reloads
// the keys, moves them along in the store when a next key is due or a
// retired key has outlived its tokens, and rotates when the active key has
// signed for RotationInterval (less the publish lead, so the successor
// signs on time). Another server doing the same at once is no error.
func (k *Keys) Maintain(ctx context.Context) error {
	if err := k.Reload(ctx); err != nil {
		return err
	}
	now := k.opts.Clock()
	k.mu.RLock()
	due := k.upcoming != nil && !now.Before(k.upcomingAt)
	for _, sk := range k.stored {
		if sk.State == models.KeyRetired && sk.Retires.Add(removeAfter).Before(now) {
			due = true
		}
	}
	k.mu.RUnlock()
	if due {
		changed, err := k.store.AdvanceSigningKeys(ctx, now, now.Add(-removeAfter))
		if err != nil {
			return err
		}
		if changed {
			if err := k.Reload(ctx); err != nil {
				return err
			}
		}
	}
	if k.opts.RotationInterval <= 0 {
		return nil
	}
	k.mu.RLock()
	rotate := k.upcoming == nil && k.current != nil && !now.Before(k.activeSince().Add(k.opts.RotationInterval-k.opts.PublishLead))
	k.mu.RUnlock()
	if rotate {
		if _, err := k.Rotate(ctx); err != nil && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// activeSince is when the active key activated; k.mu is held.
func (k *Keys) activeSince() time.Time {
	for _, sk := range k.stored {
		if sk.State == models.KeyActive {
			return sk.Activates
		}
	}
	return time.Time{}
}

// Run calls Maintain every interval, and at once whenever wake delivers
// (a change announced by another server), until ctx ends. Failures are
// passed to report and retried at the next round.
func (k *Keys) Run(ctx context.Context, interval time.Duration, wake <-chan struct{}, report func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := k.Maintain(ctx); err != nil && ctx.Err() == nil && report != nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-wake:
		}
	}
}
