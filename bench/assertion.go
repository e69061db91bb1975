package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientele/clientele/clientkeys"
)

// assertionKey is the ES256 key of the seeded private_key_jwt client. It
// signs a fresh RFC 7523 assertion for every request, as a real client
// does (a jti is accepted once), so its scenario cannot be replayed by wrk
// and runs on the Go load generator.
type assertionKey struct {
	priv   *ecdsa.PrivateKey
	signer jose.Signer
}

func newAssertionKey() (*assertionKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "bench"))
	if err != nil {
		return nil, err
	}
	return &assertionKey{priv: priv, signer: signer}, nil
}

// jwks is the client's public key set.
func (k *assertionKey) jwks() []byte {
	raw, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.priv.PublicKey, KeyID: "bench", Use: "sig"}}})
	return raw
}

// form is a token request of client id authenticated by a new assertion
// for the token endpoint aud.
func (k *assertionKey) form(id, aud string) string {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": id, "sub": id, "aud": aud, "jti": hex.EncodeToString(jti[:]),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	obj, err := k.signer.Sign(payload)
	if err != nil {
		return ""
	}
	raw, _ := obj.CompactSerialize()
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientkeys.AssertionType},
		"client_assertion": {raw}}.Encode()
}
