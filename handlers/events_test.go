package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "github.com/clientele/clientele/errors"
)

type wireEvent struct {
	Seq        int64             `json:"seq"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	ClientID   string            `json:"clientId"`
	Actor      string            `json:"actor"`
	TrackingID string            `json:"trackingId"`
	Time       string            `json:"time"`
	ETagBefore *string           `json:"etagBefore"`
	ETagAfter  *string           `json:"etagAfter"`
	Patch      []json.RawMessage `json:"patch"`
}

func (e *env) events(after int64) []wireEvent {
	e.t.Helper()
	r := e.do(request{method: http.MethodGet, path: fmt.Sprintf("/oauth-client-events?after=%d&limit=1000", after)})
	r.wantStatus(http.StatusOK)
	var evs []wireEvent
	r.json(&evs)
	return evs
}

func (e *env) lastSeq() int64 {
	evs := e.events(0)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

func TestEveryWriteIsAnEvent(t *testing.T) {
	e := newEnv(t)
	start := e.lastSeq()
	cr := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: basicClient("evented")})
	cr.wantStatus(http.StatusCreated)
	id := cr.object()["id"].(string)
	path := "/oauth-clients/" + id
	type write struct {
		typ     string
		tracked string
		etag    string
	}
	writes := []write{{"created", cr.Header().Get("X-Request-ID"), cr.Header().Get("ETag")}}
	do := func(typ string, r request) {
		t.Helper()
		res := e.do(r)
		if res.Code >= 300 {
			t.Fatalf("%s: %d %s", typ, res.Code, res.Body)
		}
		etag := res.Header().Get("ETag")
		writes = append(writes, write{typ, res.Header().Get("X-Request-ID"), etag})
	}
	do("patched", request{method: http.MethodPatch, path: path, contentType: "application/json-patch+json",
		body: `[{"op":"add","path":"/redirectUris/-","value":"https://a.example/cb"},{"op":"add","path":"/redirectUris/0","value":"https://b.example/cb"},{"op":"replace","path":"/description","value":"d"}]`})
	do("patched", request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json",
		body: `{"description":null,"redirectUris":["https://c.example/cb","https://a.example/cb","https://d.example/cb"]}`})
	do("replaced", request{method: http.MethodPut, path: path, body: map[string]any{"name": "put", "grantTypes": []string{"CLIENT_CREDENTIALS"}, "tenant": "t"}})
	do("secretRotated", request{method: http.MethodPost, path: path + "/secret"})
	do("deleted", request{method: http.MethodDelete, path: path})

	// Refused and empty writes record nothing.
	other := e.create(basicClient("quiet"))["id"].(string)
	before := e.lastSeq()
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + other, contentType: "application/json-patch+json", body: `[]`}).wantStatus(http.StatusOK)
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + other, contentType: "application/json-patch+json",
		body: `[{"op":"test","path":"/name","value":"loud"}]`}).wantError(409, apierrors.CodeConflict, "")
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + other, contentType: "application/json-patch+json",
		header: map[string]string{"If-Match": `"stale"`}, body: `[{"op":"replace","path":"/name","value":"x"}]`}).wantStatus(http.StatusPreconditionFailed)
	e.do(request{method: http.MethodDelete, path: "/oauth-clients/" + other, header: map[string]string{"If-Match": `"stale"`}}).wantStatus(http.StatusPreconditionFailed)
	if got := e.lastSeq(); got != before {
		t.Errorf("refused writes moved the feed from %d to %d", before, got)
	}

	var mine []wireEvent
	for _, ev := range e.events(start) {
		if ev.ClientID == id {
			mine = append(mine, ev)
		}
	}
	if len(mine) != len(writes) {
		t.Fatalf("%d events for %d writes: %+v", len(mine), len(writes), mine)
	}
	for i, ev := range mine {
		w := writes[i]
		if ev.Type != w.typ || ev.Actor != e.adminID || ev.TrackingID != w.tracked || !hex32.MatchString(ev.ID) ||
			!strings.HasSuffix(ev.Time, "Z") {
			t.Errorf("event %d = %+v, want type %s, actor %s, trackingId %s", i, ev, w.typ, e.adminID, w.tracked)
		}
		if w.etag != "" && (ev.ETagAfter == nil || *ev.ETagAfter != w.etag) {
			t.Errorf("event %d: etagAfter %v, want the response's %s", i, ev.ETagAfter, w.etag)
		}
		if i > 0 && (ev.ETagBefore == nil || mine[i-1].ETagAfter == nil || *ev.ETagBefore != *mine[i-1].ETagAfter) {
			t.Errorf("event %d: etagBefore %v does not follow %v", i, ev.ETagBefore, mine[i-1].ETagAfter)
		}
	}
	if mine[0].ETagBefore != nil || mine[len(mine)-1].ETagAfter != nil {
		t.Errorf("created/deleted ETags: %v %v", mine[0].ETagBefore, mine[len(mine)-1].ETagAfter)
	}

	// History: newest first, paged, also of the deleted client.
	r := e.do(request{method: http.MethodGet, path: path + "/history?limit=2&offset=1"})
	r.wantStatus(http.StatusOK)
	var h []wireEvent
	r.json(&h)
	if len(h) != 2 || h[0].Seq != mine[len(mine)-2].Seq || h[1].Seq != mine[len(mine)-3].Seq {
		t.Errorf("history page = %+v", h)
	}
	e.do(request{method: http.MethodGet, path: "/oauth-clients/nope/history"}).wantError(404, apierrors.CodeNotFound, "")
	e.do(request{method: http.MethodGet, path: path + "/history?limit=-1"}).wantError(400, apierrors.CodeIllegalValue, "limit")
	e.do(request{method: http.MethodGet, path: "/oauth-client-events?limit=1001"}).wantError(400, apierrors.CodeIllegalValue, "limit")
	e.do(request{method: http.MethodGet, path: "/oauth-client-events?after=x"}).wantError(400, apierrors.CodeIllegalValue, "after")
	if evs := e.events(mine[1].Seq); evs[0].Seq != mine[2].Seq {
		t.Errorf("after=%d starts at %d", mine[1].Seq, evs[0].Seq)
	}
	// A reader may follow the feed; a caller without read scope may not.
	reader, readerSecret := e.seedClient(t, "reader", []string{"sp:oauth-client:read"})
	readerToken := e.token(reader, readerSecret, "")
	e.do(request{method: http.MethodGet, path: "/v3/oauth-client-events", token: readerToken}).wantStatus(http.StatusOK)
	nobody, nobodySecret := e.seedClient(t, "nobody", []string{"sp:scopes:default"})
	e.do(request{method: http.MethodGet, path: "/oauth-client-events", token: e.token(nobody, nobodySecret, "")}).wantError(403, apierrors.CodeForbidden, "")
	e.do(request{method: http.MethodPost, path: path + "/restore", token: readerToken, body: map[string]any{"seq": mine[0].Seq}}).wantError(403, apierrors.CodeForbidden, "")
}

func TestRestore(t *testing.T) {
	e := newEnv(t)
	created := e.create(map[string]any{"name": "v1", "grantTypes": []string{"CLIENT_CREDENTIALS"}, "description": "first"})
	id, oldSecret := created["id"].(string), created["secret"].(string)
	path := "/oauth-clients/" + id
	e.do(request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json", body: `{"name":"v2","description":null,"enabled":false}`}).wantStatus(http.StatusOK)
	h := func() []wireEvent {
		var evs []wireEvent
		e.do(request{method: http.MethodGet, path: path + "/history"}).json(&evs)
		return evs
	}
	v1 := h()[1].Seq

	// Dry run: the answer, nothing stored.
	before := e.lastSeq()
	dry := e.do(request{method: http.MethodPost, path: path + "/restore?dryRun=true", body: map[string]any{"seq": v1}})
	dry.wantStatus(http.StatusOK)
	if got := dry.object(); got["name"] != "v1" || got["description"] != "first" || got["enabled"] != true {
		t.Errorf("dry run = %s", dry.Body)
	}
	if e.lastSeq() != before {
		t.Error("a dry run recorded an event")
	}
	cur := e.do(request{method: http.MethodGet, path: path})
	if cur.object()["name"] != "v2" {
		t.Error("a dry run changed the client")
	}
	e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": v1},
		header: map[string]string{"If-Match": `"stale"`}}).wantStatus(http.StatusPreconditionFailed)
	r := e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": v1},
		header: map[string]string{"If-Match": cur.Header().Get("ETag")}})
	r.wantStatus(http.StatusOK)
	if got := r.object(); got["name"] != "v1" || got["description"] != "first" || got["enabled"] != true || got["secret"] != nil {
		t.Errorf("restored = %s", r.Body)
	}
	if evs := h(); evs[0].Type != "restored" {
		t.Errorf("newest event %+v", evs[0])
	}
	e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": v1}}).wantError(409, apierrors.CodeConflict, "already")
	e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": 999999}}).wantError(404, apierrors.CodeNotFound, "")
	e.do(request{method: http.MethodPost, path: "/oauth-clients/nope/restore", body: map[string]any{"seq": v1}}).wantError(404, apierrors.CodeNotFound, "")
	for _, bad := range []string{`{}`, `{"seq":0}`, `{"seq":"1"}`, `{"seq":1,"x":1}`, `[]`, `{"seq":1.5}`} {
		res := e.do(request{method: http.MethodPost, path: path + "/restore", body: bad})
		if res.Code != 400 {
			t.Errorf("restore body %s: %d %s", bad, res.Code, res.Body)
		}
	}

	// A token of the client dies with it and stays dead after a restore.
	tok := e.token(id, oldSecret, "")
	e.do(request{method: http.MethodGet, path: "/oauth-clients", token: tok}).wantError(403, apierrors.CodeForbidden, "")
	e.do(request{method: http.MethodDelete, path: path}).wantStatus(http.StatusNoContent)
	e.do(request{method: http.MethodPost, path: path + "/restore?dryRun=true", body: map[string]any{"seq": v1},
		header: map[string]string{"If-Match": "*"}}).wantStatus(http.StatusPreconditionFailed)
	dry = e.do(request{method: http.MethodPost, path: path + "/restore?dryRun=true", body: map[string]any{"seq": v1}})
	dry.wantStatus(http.StatusOK)
	if _, shown := dry.object()["secret"]; shown {
		t.Errorf("a dry run showed a secret: %s", dry.Body)
	}
	if _, err := e.store.GetClient(context.Background(), id); err == nil {
		t.Error("a dry run brought the client back")
	}
	back := e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": v1}})
	back.wantStatus(http.StatusOK)
	got := back.object()
	newSecret, _ := got["secret"].(string)
	if got["id"] != id || got["name"] != "v1" || !hex64.MatchString(newSecret) || newSecret == oldSecret {
		t.Fatalf("restored deleted client = %s", back.Body)
	}
	if res := e.do(request{method: http.MethodGet, path: "/oauth-clients", token: tok}); res.Code != http.StatusUnauthorized {
		t.Errorf("the deleted client's old token: %d, want 401", res.Code)
	}
	form := "grant_type=client_credentials&client_id=" + id + "&client_secret="
	if res := e.do(request{method: http.MethodPost, path: "/oauth/token", token: "-", contentType: "application/x-www-form-urlencoded", body: form + oldSecret}); res.Code != http.StatusUnauthorized {
		t.Errorf("old secret after restore: %d", res.Code)
	}
	e.do(request{method: http.MethodPost, path: "/oauth/token", token: "-", contentType: "application/x-www-form-urlencoded", body: form + newSecret}).wantStatus(http.StatusOK)
	if evs := h(); evs[0].Type != "restored" || evs[0].ETagBefore != nil || evs[1].Type != "deleted" {
		t.Errorf("history after restoring a deleted client: %+v", evs[:2])
	}
}

// TestEventStream follows the feed as Server-Sent Events through a real
// HTTP server: the backlog, then live writes, then a resumption with
// Last-Event-ID.
func TestEventStream(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.e)
	defer srv.Close()
	first := e.create(basicClient("streamed"))["id"].(string)
	open := func(lastID string) (*bufio.Reader, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/oauth-client-events", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+e.adminToken)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		return bufio.NewReader(res.Body), func() { cancel(); res.Body.Close() }
	}
	type sse struct{ id, event, data string }
	next := func(r *bufio.Reader) sse {
		t.Helper()
		var m sse
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && m.id != "":
				return m
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.data = line[6:]
			}
		}
	}
	r, stop := open("")
	all := e.events(0)
	for _, want := range all {
		m := next(r)
		if m.id != fmt.Sprint(want.Seq) || m.event != want.Type {
			t.Fatalf("backlog: got %+v, want seq %d %s", m, want.Seq, want.Type)
		}
	}
	done := make(chan sse, 1)
	go func() { done <- next(r) }()
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + first, contentType: "application/merge-patch+json", body: `{"tenant":"live"}`}).wantStatus(http.StatusOK)
	select {
	case m := <-done:
		var ev wireEvent
		if err := json.Unmarshal([]byte(m.data), &ev); err != nil || ev.Type != "patched" || m.event != "patched" || fmt.Sprint(ev.Seq) != m.id {
			t.Fatalf("live event %+v (%v)", m, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the live event did not arrive")
	}
	stop()
	last := all[len(all)-1].Seq
	r, stop = open(fmt.Sprint(last))
	defer stop()
	if m := next(r); m.event != "patched" || m.id != fmt.Sprint(last+1) {
		t.Errorf("resumed at %+v, want seq %d", m, last+1)
	}
}
