package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clientele/clientele/webhooks"
)

// TestSignMatchesTheSpecVector reproduces the Standard Webhooks reference
// signature (secret, id, timestamp and payload of the specification).
func TestSignMatchesTheSpecVector(t *testing.T) {
	h, err := webhooks.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; h.Signature != want || h.Timestamp != "1614265330" {
		t.Errorf("Sign = %+v, want signature %s", h, want)
	}
	if _, err := webhooks.Sign("whsec_!!", "m", time.Now(), nil); err == nil {
		t.Error("a secret that is not base64 signed")
	}
}

// verify is a receiver's check written from the Standard Webhooks
// specification, independently of Sign: the secret's bytes, the signed
// content "id.timestamp.body", any of the space-separated v1 signatures, a
// timestamp within 5 minutes of now.
func verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := header.Get("webhook-id"), header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("timestamp out of tolerance")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(header.Get("webhook-signature")) {
		version, value, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(value)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

func TestDeliveriesVerify(t *testing.T) {
	secret, err := webhooks.NewSecret()
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("NewSecret = %q, %v", secret, err)
	}
	data := json.RawMessage(`{"seq":7,"type":"patched","patch":[{"op":"replace","path":"/name","value":"x"}]}`)
	body, err := webhooks.Envelope("https://clientele.example", "0190f1a2b3c47d8e9fa0b1c2d3e4f5a7", "patched", "c1", "2026-07-11T18:45:37.098Z", data)
	if err != nil {
		t.Fatal(err)
	}
	var ce map[string]any
	if err := json.Unmarshal(body, &ce); err != nil {
		t.Fatal(err)
	}
	if ce["specversion"] != "1.0" || ce["type"] != "com.clientele.oauth-client.patched" || ce["subject"] != "c1" ||
		ce["source"] != "https://clientele.example" || ce["id"] != "0190f1a2b3c47d8e9fa0b1c2d3e4f5a7" || ce["data"].(map[string]any)["seq"] != 7.0 {
		t.Errorf("envelope %s", body)
	}
	now := time.Now()
	h, err := webhooks.Sign(secret, "0190f1a2b3c47d8e9fa0b1c2d3e4f5a7", now, body)
	if err != nil {
		t.Fatal(err)
	}
	header := http.Header{}
	h.Set(header)
	if err := verify(secret, header, body, now); err != nil {
		t.Errorf("a receiver refuses our delivery: %v", err)
	}
	other, _ := webhooks.NewSecret()
	if err := verify(other, header, body, now); err == nil {
		t.Error("another secret verifies")
	}
	if err := verify(secret, header, append(body, ' '), now); err == nil {
		t.Error("a changed body verifies")
	}
	if err := verify(secret, header, body, now.Add(10*time.Minute)); err == nil {
		t.Error("an old delivery verifies")
	}
}

func TestNextAttempt(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at, n := first, 0
	var waits []time.Duration
	for {
		n++
		next, ok := webhooks.NextAttempt(first, at, n)
		if !ok {
			break
		}
		waits = append(waits, next.Sub(at))
		at = next
	}
	if waits[0] != time.Second || waits[1] != 2*time.Second || waits[11] != 2048*time.Second || waits[12] != time.Hour || waits[len(waits)-1] != time.Hour {
		t.Errorf("waits %v", waits)
	}
	if at.Sub(first) > webhooks.GiveUpAfter || at.Add(time.Hour).Sub(first) <= webhooks.GiveUpAfter {
		t.Errorf("the last attempt is %v after the first; the schedule should end within an hour of 24 h", at.Sub(first))
	}
	if _, ok := webhooks.NextAttempt(first, first.Add(webhooks.GiveUpAfter), 1); ok {
		t.Error("a delivery 24 h old is retried")
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckTarget(t *testing.T) {
	r := fakeResolver{
		"public.example":   {netip.MustParseAddr("93.184.216.34")},
		"internal.example": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")},
		"meta.example":     {netip.MustParseAddr("169.254.169.254")},
		"v6.example":       {netip.MustParseAddr("fd00::1")},
	}
	for _, tc := range []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://public.example/hook", false, true},
		{"https://internal.example/hook", false, false},
		{"https://meta.example/hook", false, false},
		{"https://v6.example/hook", false, false},
		{"https://nowhere.example/hook", false, false},
		{"https://127.0.0.1/hook", false, false},
		{"https://[::ffff:10.1.2.3]/hook", false, false},
		{"https://100.64.1.1/hook", false, false},
		{"https://203.0.113.7/hook", false, false},
		{"https://198.51.100.7/hook", false, false},
		{"https://192.0.2.7/hook", false, false},
		{"https://[2002:a00:5::1]/hook", false, false},
		{"https://[2001:0:a00:5::1]/hook", false, false},
		{"https://[64:ff9b:1::a00:5]/hook", false, false},
		{"https://[100::1]/hook", false, false},
		{"https://[64:ff9b::a9fe:a9fe]/hook", false, false}, // NAT64 of 169.254.169.254
		{"https://[64:ff9b::808:808]/hook", false, true},    // NAT64 of 8.8.8.8
		{"https://[2002:808:808::1]/hook", false, true},     // 6to4 of 8.8.8.8
		{"https://[fe80::1%25eth0]/hook", false, false},
		{"https://198.18.0.1/hook", false, false},
		{"https://[::ffff:8.8.8.8]/hook", false, true},
		{"https://[2606:4700::1111]/hook", false, true},
		{"https://8.8.8.8/hook", false, true},
		{"http://public.example/hook", false, false},
		{"http://127.0.0.1:8080/hook", false, false},
		{"http://127.0.0.1:8080/hook", true, true},
		{"http://localhost:8080/hook", true, true},
		{"https://10.0.0.5/hook", true, true},
		{"ftp://public.example/hook", true, false},
		{"https://user:pw@public.example/hook", true, false},
		{"/hook", true, false},
	} {
		err := webhooks.CheckTarget(context.Background(), tc.url, tc.allowPrivate, r)
		if (err == nil) != tc.ok {
			t.Errorf("webhooks.CheckTarget(%s, allowPrivate=%v) = %v, want ok %v", tc.url, tc.allowPrivate, err, tc.ok)
		}
	}
}
