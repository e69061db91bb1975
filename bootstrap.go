package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/db"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// newStartupID is the trackingId of start-up's writes: 32 lowercase hex,
// like a request's.
func newStartupID() string {
	id := uuid.New()
	return hex.EncodeToString(id[:])
}

// minAdminSecretLength is SPEC §1's floor for a configured admin secret.
const minAdminSecretLength = 32

const adminName = "Clientele admin"

// bootstrapAdmin makes sure an admin client exists (SPEC §1). With both
// CLIENTELE_ADMIN_CLIENT_ID and CLIENTELE_ADMIN_CLIENT_SECRET set, that
// client is created or brought back to an enabled CLIENT_CREDENTIALS client
// with sp:scopes:all and that secret. With neither set and no client holding
// sp:scopes:all, one is created and its credentials printed once, with a
// curl line that fetches a token from base, the server's own address.
func bootstrapAdmin(ctx context.Context, store *db.Store, cfg config, base string, stderr io.Writer) error {
	ctx = events.WithOrigin(ctx, events.Origin{Actor: events.BootstrapActor, TrackingID: newStartupID()})
	if cfg.adminID != "" {
		if !models.ValidBootstrapID(cfg.adminID) {
			return fmt.Errorf("CLIENTELE_ADMIN_CLIENT_ID must be 1-64 of A-Z a-z 0-9 _ -")
		}
		if len(cfg.adminSecret) < minAdminSecretLength {
			return fmt.Errorf("CLIENTELE_ADMIN_CLIENT_SECRET must be at least %d characters", minAdminSecretLength)
		}
		return ensureAdmin(ctx, store, cfg.adminID, adminSecret(cfg.adminSecret))
	}
	exists, err := store.HasClientWithScope(ctx, models.ScopeAll)
	if err != nil {
		return fmt.Errorf("looking for an admin client: %w", err)
	}
	if exists {
		return nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	secret, record, err := authserver.MintSecret(time.Now(), nil)
	if err != nil {
		return err
	}
	admin := newAdmin(hex.EncodeToString(id[:]), record)
	if _, err := store.CreateClient(ctx, admin, models.WriteOptions{}); err != nil {
		return fmt.Errorf("creating the first admin client: %w", err)
	}
	fmt.Fprintf(stderr, `clientele: created the first admin client; its secret is shown only this once
  client id:     %s
  client secret: %s
  get a token:   curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth/token
`, admin.ID, secret, admin.ID, secret, base)
	return nil
}

// adminSecret is the record of a configured admin secret. Its id is
// derived from the hash, so that a restart with the same secret changes
// nothing.
func adminSecret(value string) models.Secret {
	hash := authserver.HashSecret(value)
	return models.Secret{ID: hex.EncodeToString(hash[:16]), Hash: hash, Created: time.Now().UTC().Truncate(time.Millisecond), Hint: value[len(value)-4:]}
}

func newAdmin(id string, secret models.Secret) models.OAuthClient {
	c := models.NewClient()
	c.ID = id
	c.Name = adminName
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	c.Scope = []string{models.ScopeAll}
	c.Secrets = []models.Secret{secret}
	return c
}

// ensureAdmin creates the configured admin, or restores its grant, scope,
// enabled flag and secret. Servers starting at once may race to create it:
// the loser updates instead.
func ensureAdmin(ctx context.Context, store *db.Store, id string, secret models.Secret) error {
	for attempt := 0; attempt < 2; attempt++ {
		_, err := store.UpdateClient(ctx, id, func(c *models.OAuthClient) error {
			c.Enabled = true
			c.Type = models.TypeConfidential
			if !c.HasGrant(models.GrantClientCredentials) {
				c.GrantTypes = append(slices.Clone(c.GrantTypes), models.GrantClientCredentials)
			}
			c.Scope = []string{models.ScopeAll}
			// Both secret methods, so that SailPoint's SDKs (client_id and
			// client_secret in a multipart form) and Basic both work.
			for _, m := range []models.AuthMethod{models.AuthSecretBasic, models.AuthSecretPost} {
				if !c.HasAuthMethod(m) {
					c.TokenEndpointAuthMethods = append(slices.Clone(c.TokenEndpointAuthMethods), m)
				}
			}
			if i := slices.IndexFunc(c.Secrets, func(s models.Secret) bool { return bytes.Equal(s.Hash, secret.Hash) }); i < 0 || c.Secrets[i].Expires != nil {
				// A new configured secret replaces every other, as a rotation.
				c.Secrets = []models.Secret{secret}
				c.TokenGeneration++
			}
			return c.Validate()
		}, models.WriteOptions{})
		if !apierrors.IsNotFound(err) {
			if err != nil {
				return fmt.Errorf("updating the admin client %s: %w", id, err)
			}
			return nil
		}
		_, err = store.CreateClient(ctx, newAdmin(id, secret), models.WriteOptions{})
		if !apierrors.IsConflict(err) {
			if err != nil {
				return fmt.Errorf("creating the admin client %s: %w", id, err)
			}
			return nil
		}
	}
	return fmt.Errorf("the admin client %s could neither be created nor updated", id)
}
