package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRateLimitIsWaitedOut: a 429 is sent again after Retry-After, body
// and all; any other refusal is returned at once.
func TestRateLimitIsWaitedOut(t *testing.T) {
	var creates, limited atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(http.StatusUnauthorized)
		case r.Method == http.MethodPost && limited.Add(1) == 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"message":"Rate Limit Exceeded"}`)
		case r.Method == http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			if string(body) != `{"name":"a"}` {
				t.Errorf("resent body %q", body)
			}
			creates.Add(1)
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"x","secret":"s"}`)
		default:
			w.Header().Set("X-Request-ID", "0123456789abcdef0123456789abcdef")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"detailCode":"409.1 Conflict","trackingId":"0123456789abcdef0123456789abcdef","messages":[{"text":"The request conflicts."}],"causes":[{"text":"a cause"}]}`)
		}
	}))
	defer srv.Close()
	a, err := newAPI(context.Background(), srv.URL, "id", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.create(context.Background(), []byte(`{"name":"a"}`)); err != nil || creates.Load() != 1 || limited.Load() != 2 {
		t.Fatalf("create after a 429: %v, %d creates, %d posts", err, creates.Load(), limited.Load())
	}
	err = a.delete(context.Background(), "x", "")
	if !isStatus(err, http.StatusConflict) {
		t.Fatalf("delete: %v", err)
	}
	report := err.(*APIError).Report()
	for _, want := range []string{"clientele: 409.1 Conflict: The request conflicts.\n", "  cause: a cause\n", "  trackingId: 0123456789abcdef0123456789abcdef\n"} {
		if !strings.Contains(report, want) {
			t.Errorf("report %q lacks %q", report, want)
		}
	}
}

// TestListAllPagesOnce: every page is read, and a client that offset paging
// shows twice (another writer moved it) is kept once.
func TestListAllPagesOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
			return
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if r.URL.Query().Get("limit") != "250" {
			t.Errorf("limit %q", r.URL.Query().Get("limit"))
		}
		// 300 clients; the second page starts one early, as if a client
		// before it had been deleted meanwhile.
		from, to := offset, offset+250
		if offset > 0 {
			from--
		}
		if to > 300 {
			to = 300
		}
		var items []string
		for i := from; i < to; i++ {
			items = append(items, fmt.Sprintf(`{"id":"c%03d","name":"n%d","grantTypes":["CLIENT_CREDENTIALS"]}`, i, i))
		}
		_, _ = io.WriteString(w, "["+strings.Join(items, ",")+"]")
	}))
	defer srv.Close()
	a, err := newAPI(context.Background(), srv.URL, "id", "secret")
	if err != nil {
		t.Fatal(err)
	}
	clients, err := a.listAll(context.Background())
	if err != nil || len(clients) != 300 || clients[299].id != "c299" || clients[250].id != "c250" {
		t.Fatalf("listAll: %v, %d clients", err, len(clients))
	}
}
