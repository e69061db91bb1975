// Package webhooks holds what delivering Clientele's events to webhooks
// needs and knows no HTTP server or store: the CloudEvents 1.0 envelope of
// an event, the Standard Webhooks signature, the exponential retry schedule
// and the check that keeps targets off private networks (SPEC §10).
package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clientele/clientele/internal/netguard"
)

// CloudEvent is the JSON body of a delivery: CloudEvents 1.0's structured
// mode, with the event's wire form as data.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// TypePrefix is put before an event's type in a CloudEvent's type.
const TypePrefix = "com.clientele.oauth-client."

// Envelope returns the CloudEvents body of one event: id the event's id,
// source the issuer, subject the client id, data the event as served by
// the feed.
func Envelope(issuer, eventID, eventType, clientID, time string, data json.RawMessage) ([]byte, error) {
	return json.Marshal(CloudEvent{SpecVersion: "1.0", ID: eventID, Source: issuer, Type: TypePrefix + eventType,
		Subject: clientID, Time: time, DataContentType: "application/json", Data: data})
}

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// NewSecret returns a signing secret: whsec_ and the base64 of 32 random
// bytes, as the Standard Webhooks libraries expect it.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// Headers are the Standard Webhooks headers of one delivery attempt.
type Headers struct {
	ID, Timestamp, Signature string
}

// Set puts h on an outgoing request's header.
func (h Headers) Set(header http.Header) {
	header.Set("webhook-id", h.ID)
	header.Set("webhook-timestamp", h.Timestamp)
	header.Set("webhook-signature", h.Signature)
}

// Sign signs body for delivery msgID at time at with secret, by the
// Standard Webhooks scheme: v1, and the base64 of HMAC-SHA256 keyed with
// the secret's bytes over "msgID.timestamp.body".
func Sign(secret, msgID string, at time.Time, body []byte) (Headers, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return Headers{}, errors.New("webhooks: the signing secret is not whsec_ and base64")
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + ts + "."))
	mac.Write(body)
	return Headers{ID: msgID, Timestamp: ts, Signature: "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))}, nil
}

// Retry schedule (SPEC §10): exponential from FirstRetry, doubling up to
// MaxRetry between attempts, for GiveUpAfter from the first attempt.
const (
	FirstRetry  = time.Second
	MaxRetry    = time.Hour
	GiveUpAfter = 24 * time.Hour
	// Timeout bounds one attempt: a receiver that does not answer in
	// time has failed it.
	Timeout = 10 * time.Second
)

// NextAttempt is when to try again after the attempts-th failed attempt
// (1 for the first), given when the first attempt was made; ok is false
// once the delivery has been tried for GiveUpAfter and is given up.
func NextAttempt(first, failedAt time.Time, attempts int) (next time.Time, ok bool) {
	wait := MaxRetry
	if attempts < 13 { // 2^12 s > 1 h
		wait = min(FirstRetry<<(attempts-1), MaxRetry)
	}
	next = failedAt.Add(wait)
	if next.Sub(first) > GiveUpAfter {
		return time.Time{}, false
	}
	return next, true
}

// Resolver looks up a host's addresses; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckTarget refuses a webhook URL that is not absolute https (or http on
// a loopback host), or, unless allowPrivate, whose host is or resolves to
// an address that is not netguard.Public. The returned error names the
// reason for the caller's envelope. The dispatcher checks again each
// address it dials, as the name may resolve differently by then.
func CheckTarget(ctx context.Context, raw string, allowPrivate bool, r Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("must be an absolute URL without user information or fragment")
	}
	host := u.Hostname()
	loopbackName := host == "localhost" || strings.HasSuffix(host, ".localhost")
	switch u.Scheme {
	case "https":
	case "http":
		if ip, err := netip.ParseAddr(host); !loopbackName && (err != nil || !ip.IsLoopback()) {
			return errors.New("must be https (http only on a loopback host)")
		}
	default:
		return errors.New("must be https (http only on a loopback host)")
	}
	if allowPrivate {
		return nil
	}
	addrs := []netip.Addr{}
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, ip)
	} else if loopbackName {
		return errors.New("names a loopback host; private targets need --allow-private-webhooks")
	} else {
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return fmt.Errorf("host %s does not resolve", host)
		}
	}
	for _, a := range addrs {
		if !netguard.Public(a) {
			return fmt.Errorf("resolves to %s, a non-public address; private targets need --allow-private-webhooks", a)
		}
	}
	return nil
}

var _ Resolver = net.DefaultResolver

// Subscription is one webhook: where events go and which.
type Subscription struct {
	ID  string
	URL string
	// Secret signs every delivery; shown once, when the webhook is made.
	Secret string
	// EventTypes are the event types delivered; empty for all.
	EventTypes []string
	// ExcludeActors are the actors whose events are not delivered, so a
	// system that writes through the API need not hear its own writes.
	ExcludeActors []string
	Created       time.Time
}

// Delivery is one event due to one webhook.
type Delivery struct {
	WebhookID string
	Seq       int64
	// Attempts is how many attempts failed so far; FirstAttempt is when
	// the first was made (zero before it).
	Attempts     int
	FirstAttempt time.Time
}
