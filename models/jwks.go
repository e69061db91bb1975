package models

import (
	"bytes"
	"encoding/json"
	"slices"
)

// KeySet is a JWK Set held as its JSON text; nil is none, and JSON null
// decodes to nil, so that a client without keys is the same however it
// was read.
type KeySet []byte

// MarshalJSON writes the set, or null for none.
func (k KeySet) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	return k, nil
}

// UnmarshalJSON keeps a copy of data; null is none.
func (k *KeySet) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*k = nil
		return nil
	}
	*k = slices.Clone(data)
	return nil
}

// rawJSON is the codec of a KeySet member.
type rawJSON func(*OAuthClient) *KeySet

func (f rawJSON) field(c *OAuthClient) any { return f(c) }

func (f rawJSON) compact(c *OAuthClient) []byte {
	v := *f(c)
	if v == nil {
		return []byte("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}

func (f rawJSON) appendJSON(dst []byte, c *OAuthClient) []byte { return append(dst, f.compact(c)...) }
func (f rawJSON) decodeJSON(c *OAuthClient, raw []byte) error {
	if !json.Valid(raw) {
		return &json.SyntaxError{}
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		*f(c) = nil
		return nil
	}
	*f(c) = slices.Clone(KeySet(raw))
	return nil
}
func (f rawJSON) equal(a, b *OAuthClient) bool { return bytes.Equal(f.compact(a), f.compact(b)) }
func (f rawJSON) copy(dst, src *OAuthClient)   { *f(dst) = slices.Clone(*f(src)) }
func (f rawJSON) columnKind() ColumnKind       { return ColumnText }
func (f rawJSON) columnValue(c *OAuthClient) any {
	if *f(c) == nil {
		return nil
	}
	return string(f.compact(c))
}
func (f rawJSON) load(c *OAuthClient, v Cell) error {
	if !v.Valid {
		*f(c) = nil
		return nil
	}
	return f.decodeJSON(c, []byte(v.Text))
}
