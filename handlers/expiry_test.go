package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/models"
)

// secretIDs returns the ids in the secrets member of a client body.
func secretIDs(t *testing.T, r response) []string {
	t.Helper()
	var cl struct {
		Secrets []wireSecret `json:"secrets"`
	}
	r.json(&cl)
	ids := make([]string, len(cl.Secrets))
	for i, s := range cl.Secrets {
		ids[i] = s.ID
	}
	return ids
}

// TestExpiredSecretsLeaveTheRepresentation: by the injected clock, a
// secret past its expires is gone from every read of the client (GET,
// list, PATCH and PUT answers) at once, with no write; the ETag changes at
// that instant for readers and If-Match alike.
func TestExpiredSecretsLeaveTheRepresentation(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	e := newEnvWith(t, envOptions{now: clock.now})
	cl := e.create(map[string]any{"name": "expiring", "grantTypes": []string{"CLIENT_CREDENTIALS"}})
	id := cl["id"].(string)
	path := "/oauth-clients/" + id
	var added wireSecret
	e.do(request{method: http.MethodPost, path: path + "/secrets", body: `{"expiresInSeconds": 120}`}).json(&added)

	r := e.do(request{method: http.MethodGet, path: path})
	before := r.Header().Get("ETag")
	if ids := secretIDs(t, r); len(ids) != 2 {
		t.Fatalf("before the expiry: secrets %v", ids)
	}

	clock.advance(120 * time.Second)
	r = e.do(request{method: http.MethodGet, path: path})
	after := r.Header().Get("ETag")
	if ids := secretIDs(t, r); len(ids) != 1 || ids[0] == added.ID {
		t.Errorf("GET after the expiry: secrets %v, the expired one is %s", ids, added.ID)
	}
	if after == before {
		t.Error("the ETag did not change when a secret expired")
	}
	e.do(request{method: http.MethodGet, path: path, header: map[string]string{"If-None-Match": before}}).wantStatus(http.StatusOK)
	e.do(request{method: http.MethodGet, path: path, header: map[string]string{"If-None-Match": after}}).wantStatus(http.StatusNotModified)
	if again := e.do(request{method: http.MethodGet, path: path}).Header().Get("ETag"); again != after {
		t.Errorf("the ETag moved between two reads: %s then %s", after, again)
	}

	r = e.do(request{method: http.MethodGet, path: "/oauth-clients?filters=" + strings.ReplaceAll(`id eq "`+id+`"`, " ", "%20")})
	var list []struct {
		Secrets []wireSecret `json:"secrets"`
	}
	r.json(&list)
	if len(list) != 1 || len(list[0].Secrets) != 1 || list[0].Secrets[0].ID == added.ID {
		t.Errorf("list after the expiry: %s", r.Body)
	}

	patch := func(etag string) response {
		return e.do(request{method: http.MethodPatch, path: path, contentType: "application/json-patch+json",
			body: `[{"op":"replace","path":"/description","value":"later"}]`, header: map[string]string{"If-Match": etag}})
	}
	patch(before).wantStatus(http.StatusPreconditionFailed)
	r = patch(after)
	r.wantStatus(http.StatusOK)
	if ids := secretIDs(t, r); len(ids) != 1 || ids[0] == added.ID {
		t.Errorf("PATCH answer: secrets %v", ids)
	}
	if got := e.do(request{method: http.MethodGet, path: path}).Header().Get("ETag"); got != r.Header().Get("ETag") {
		t.Errorf("PATCH answered ETag %s, GET then %s", r.Header().Get("ETag"), got)
	}
	r = e.do(request{method: http.MethodPut, path: path, body: map[string]any{"name": "expiring", "grantTypes": []string{"CLIENT_CREDENTIALS"}}})
	r.wantStatus(http.StatusOK)
	if ids := secretIDs(t, r); len(ids) != 1 || ids[0] == added.ID {
		t.Errorf("PUT answer: secrets %v", ids)
	}
	e.checkEvents(t)
}

// TestEventsShowSecretsAsOfTheirTime: an event's representations are
// those of its time, so a secret expired by then is in neither and its
// patch does not mention it.
func TestEventsShowSecretsAsOfTheirTime(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expired, live := at.Add(-time.Second), at.Add(time.Hour)
	mk := func(desc string) *models.OAuthClient {
		c := models.NewClient()
		c.ID, c.Name, c.Description = "c1", "one", &desc
		c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
		c.Secrets = []models.Secret{{ID: "old", Created: at.Add(-time.Hour), Expires: &expired},
			{ID: "new", Created: at.Add(-time.Hour), Expires: &live}}
		return &c
	}
	ev := events.Event{Seq: 1, ID: "e1", Type: events.Patched, ClientID: "c1", Time: at, Before: mk("a"), After: mk("b")}
	wire, err := handlers.RenderEvent(&ev)
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := json.Marshal(wire.Patch)
	if string(ops) != `[{"op":"replace","path":"/description","value":"b"}]` {
		t.Errorf("patch = %s", ops)
	}
	body, etag := handlers.RenderClient(ev.Before, at)
	if *wire.ETagBefore != etag || strings.Contains(string(body), `"old"`) || !strings.Contains(string(body), `"new"`) {
		t.Errorf("etagBefore %s, want %s of %s", *wire.ETagBefore, etag, body)
	}
}
