package models

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	apierrors "github.com/clientele/clientele/errors"
)

// Limits of SPEC §9.
const (
	// MaxLiveSecrets is the most secrets a client holds at once.
	MaxLiveSecrets = 2
	// SecretLastUsedEvery is how often a secret's lastUsed moves, at most.
	SecretLastUsedEvery = time.Minute
	MinSecretSeconds    = 60
	MaxSecretSeconds    = 31536000
	MaxGraceSeconds     = 604800
)

// Secret is one secret of a client (SPEC §9). The value itself is never
// held, only its hash; Hint is the value's last four characters ("" for a
// secret that predates hints).
type Secret struct {
	ID       string
	Hash     []byte
	Created  time.Time
	Expires  *time.Time
	LastUsed *time.Time
	Hint     string
}

// LiveAt reports whether s authenticates at t: it has not expired.
func (s *Secret) LiveAt(t time.Time) bool { return s.Expires == nil || t.Before(*s.Expires) }

// LiveSecrets returns the secrets of c that authenticate at t.
func (c *OAuthClient) LiveSecrets(t time.Time) []Secret {
	var out []Secret
	for _, s := range c.Secrets {
		if s.LiveAt(t) {
			out = append(out, s)
		}
	}
	return out
}

// AuthenticatesBySecret reports whether c may authenticate by a secret:
// it is CONFIDENTIAL and lists client_secret_basic or client_secret_post.
// Only such a client is given a secret when it is made (SPEC §9, §12).
func (c *OAuthClient) AuthenticatesBySecret() bool {
	return c.Type == TypeConfidential && (c.HasAuthMethod(AuthSecretBasic) || c.HasAuthMethod(AuthSecretPost))
}

// NeedsSecret reports whether c cannot authenticate without a live secret:
// it authenticates by secret and not by private_key_jwt.
func (c *OAuthClient) NeedsSecret() bool {
	return c.AuthenticatesBySecret() && !c.HasAuthMethod(AuthPrivateKeyJWT)
}

// CheckSecretKept refuses a write that turns cur into next when next
// would need a secret (NeedsSecret) and hold no live one at now while cur
// did not need one: a client that authenticates by private_key_jwt alone
// and holds no secret cannot drop private_key_jwt (or move to secret
// methods only) until it has a secret. It returns 400.1.1 naming the way
// out; a client that already needs a secret is left alone.
func CheckSecretKept(cur, next *OAuthClient, now time.Time) error {
	if !next.NeedsSecret() || cur.NeedsSecret() || len(next.LiveSecrets(now)) > 0 {
		return nil
	}
	return apierrors.NewIllegalUpdate("tokenEndpointAuthMethods: the client holds no live secret, so it needs private_key_jwt; " +
		"add a secret first with POST /oauth-clients/" + next.ID + "/secrets")
}

// AsOf returns c as its representation shows it at t: without the
// secrets that have expired by then (SPEC §9: only live secrets are
// listed). It returns c itself when none has, else a shallow copy that
// shares everything with c but Secrets.
func (c *OAuthClient) AsOf(t time.Time) *OAuthClient {
	for i := range c.Secrets {
		if !c.Secrets[i].LiveAt(t) {
			v := *c
			v.Secrets = c.LiveSecrets(t)
			if v.Secrets == nil {
				v.Secrets = []Secret{}
			}
			return &v
		}
	}
	return c
}

// FindSecret returns the index of the secret with id, or -1.
func (c *OAuthClient) FindSecret(id string) int {
	return slices.IndexFunc(c.Secrets, func(s Secret) bool { return s.ID == id })
}

// DropExpiredSecrets forgets the secrets of c that expired before t: they
// authenticate nothing and end their tokens by their expiry alone.
func (c *OAuthClient) DropExpiredSecrets(t time.Time) {
	c.Secrets = slices.DeleteFunc(c.Secrets, func(s Secret) bool { return !s.LiveAt(t) })
	if c.Secrets == nil {
		c.Secrets = []Secret{}
	}
}

// secretJSON is a secret as the wire shows it (metadata only) and, with
// Hash set, as the store keeps it.
type secretJSON struct {
	ID       string  `json:"id"`
	Created  string  `json:"created"`
	Expires  *string `json:"expires"`
	LastUsed *string `json:"lastUsed"`
	Hint     *string `json:"hint"`
	Hash     string  `json:"hash,omitempty"`
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := string(appendTime(nil, *t))
	s = s[1 : len(s)-1]
	return &s
}

func readOptTime(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := parseTime([]byte(`"` + *s + `"`))
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *Secret) toJSON(withHash bool) secretJSON {
	created := string(appendTime(nil, s.Created))
	out := secretJSON{ID: s.ID, Created: created[1 : len(created)-1], Expires: optTime(s.Expires), LastUsed: optTime(s.LastUsed)}
	if s.Hint != "" {
		hint := s.Hint
		out.Hint = &hint
	}
	if withHash {
		out.Hash = hex.EncodeToString(s.Hash)
	}
	return out
}

func (j *secretJSON) secret() (Secret, error) {
	created, err := parseTime([]byte(`"` + j.Created + `"`))
	if err != nil {
		return Secret{}, err
	}
	s := Secret{ID: j.ID, Created: created}
	if s.Expires, err = readOptTime(j.Expires); err != nil {
		return Secret{}, err
	}
	if s.LastUsed, err = readOptTime(j.LastUsed); err != nil {
		return Secret{}, err
	}
	if j.Hint != nil {
		s.Hint = *j.Hint
	}
	if s.Hash, err = hex.DecodeString(j.Hash); err != nil {
		return Secret{}, err
	}
	return s, nil
}

// MarshalSecrets is the JSON of secrets as the wire shows them: metadata,
// never a hash or a value.
func MarshalSecrets(secrets []Secret) []byte { return marshalSecrets(secrets, false) }

func marshalSecrets(secrets []Secret, withHash bool) []byte {
	out := make([]secretJSON, len(secrets))
	for i := range secrets {
		out[i] = secrets[i].toJSON(withHash)
	}
	b, _ := json.Marshal(out) // strings and pointers to strings always encode
	return b
}

func unmarshalSecrets(raw []byte) ([]Secret, error) {
	var in []secretJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	out := make([]Secret, 0, len(in))
	for i := range in {
		s, err := in[i].secret()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// secretList is the codec of the `secrets` member: the wire shows the
// metadata, the column keeps the hashes too.
type secretList func(*OAuthClient) *[]Secret

func (f secretList) field(c *OAuthClient) any { return f(c) }
func (f secretList) appendJSON(dst []byte, c *OAuthClient) []byte {
	return append(dst, marshalSecrets(*f(c), false)...)
}
func (f secretList) decodeJSON(c *OAuthClient, raw []byte) error {
	s, err := unmarshalSecrets(raw)
	if err == nil {
		*f(c) = s
	}
	return err
}

// equal reports whether the column would hold the same text for a and b,
// without writing it: the store asks of every write which members changed.
func (f secretList) equal(a, b *OAuthClient) bool {
	x, y := *f(a), *f(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		s, t := &x[i], &y[i]
		if s.ID != t.ID || s.Hint != t.Hint || !bytes.Equal(s.Hash, t.Hash) || !sameTime(&s.Created, &t.Created) ||
			!sameOptTime(s.Expires, t.Expires) || !sameOptTime(s.LastUsed, t.LastUsed) {
			return false
		}
	}
	return true
}

// sameTime reports whether a and b are written alike (TimeLayout).
func sameTime(a, b *time.Time) bool {
	var x, y [40]byte
	return bytes.Equal(appendTime(x[:0], *a), appendTime(y[:0], *b))
}

func sameOptTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && sameTime(a, b)
}
func (f secretList) copy(dst, src *OAuthClient) {
	out := make([]Secret, len(*f(src)))
	for i, s := range *f(src) {
		s.Hash = slices.Clone(s.Hash)
		s.Expires, s.LastUsed = clonePtr(s.Expires), clonePtr(s.LastUsed)
		out[i] = s
	}
	*f(dst) = out
}
func (f secretList) columnKind() ColumnKind { return ColumnText }
func (f secretList) columnValue(c *OAuthClient) any {
	return string(marshalSecrets(*f(c), true))
}
func (f secretList) load(c *OAuthClient, v Cell) error {
	if !v.Valid {
		*f(c) = []Secret{}
		return nil
	}
	return f.decodeJSON(c, []byte(v.Text))
}
