package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

func bulkBodies(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = basicClient(fmt.Sprintf("bulk %04d", i))
	}
	return out
}

func (e *env) countClients(t *testing.T, filter string) int {
	t.Helper()
	q, err := query.ParseList(map[string][]string{"filters": {filter}, "count": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	_, total, err := e.store.ListClients(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return int(total)
}

// SPEC §3: an array of create bodies creates all of them, in order, each
// with its secret, and records one created event each.
func TestBulkCreate(t *testing.T) {
	e := newEnv(t)
	last, _ := e.store.LastEventSeq(context.Background())
	bodies := bulkBodies(3)
	bodies[1] = map[string]any{"name": "bulk spa", "type": "PUBLIC", "grantTypes": []string{"AUTHORIZATION_CODE"},
		"redirectUris": []string{"https://spa.example/cb"}}
	r := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: bodies})
	r.wantStatus(http.StatusCreated)
	if r.Header().Get("Location") != "" || r.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.Header())
	}
	var got []map[string]any
	r.json(&got)
	if len(got) != 3 {
		t.Fatalf("%d clients, want 3: %s", len(got), r.Body)
	}
	for i, c := range got {
		if c["name"] != bodies[i]["name"] {
			t.Errorf("[%d] name %v, want %v", i, c["name"], bodies[i]["name"])
		}
		secret, _ := c["secret"].(string)
		if (i == 1) != (c["secret"] == nil) || i != 1 && !hex64.MatchString(secret) {
			t.Errorf("[%d] secret %v", i, c["secret"])
		}
		g := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + c["id"].(string)})
		g.wantStatus(http.StatusOK)
		if g.object()["name"] != c["name"] {
			t.Errorf("[%d] stored as %s", i, g.Body)
		}
		if i != 1 {
			e.token(c["id"].(string), secret, "") // the secret works
		}
	}
	evs, err := e.store.Events(context.Background(), last, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	for i, ev := range evs {
		if string(ev.Type) != "created" || ev.ClientID != got[i]["id"] {
			t.Errorf("event %d: %s %s, want created %v", i, ev.Type, ev.ClientID, got[i]["id"])
		}
	}
}

// All or none: element 500 of 1000 is bad, and nothing is stored.
func TestBulkCreateAllOrNothing(t *testing.T) {
	e := newEnv(t)
	last, _ := e.store.LastEventSeq(context.Background())
	bodies := bulkBodies(1000)
	bodies[500]["accessTokenValiditySeconds"] = 1
	r := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: bodies})
	r.wantError(http.StatusBadRequest, apierrors.CodeIllegalValue, "[500].accessTokenValiditySeconds")
	if n := e.countClients(t, `name sw "bulk"`); n != 0 {
		t.Errorf("%d clients stored by a refused bulk create", n)
	}
	if now, _ := e.store.LastEventSeq(context.Background()); now != last {
		t.Errorf("events recorded: %d → %d", last, now)
	}

	bodies[500] = basicClient("bulk 0500")
	r = e.do(request{method: http.MethodPost, path: "/oauth-clients", body: bodies})
	r.wantStatus(http.StatusCreated)
	if n := e.countClients(t, `name sw "bulk"`); n != 1000 {
		t.Errorf("%d clients stored, want 1000", n)
	}
}

// A failure inside the transaction (here a duplicate id, which only the
// store can see) also leaves nothing behind.
func TestCreateClientsRollsBack(t *testing.T) {
	e := newEnv(t)
	cs := make([]models.OAuthClient, 3)
	for i := range cs {
		cs[i] = models.NewClient()
		cs[i].ID = fmt.Sprintf("rollback-%d", i)
		cs[i].Name = cs[i].ID
		cs[i].GrantTypes = []models.GrantType{models.GrantClientCredentials}
	}
	cs[2].ID = cs[0].ID
	_, err := e.store.CreateClients(context.Background(), cs, models.WriteOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "rollback-0") {
		t.Fatalf("err = %v, want a conflict naming rollback-0", err)
	}
	if n := e.countClients(t, `name sw "rollback"`); n != 0 {
		t.Errorf("%d clients stored", n)
	}
}

func TestBulkCreateErrors(t *testing.T) {
	e := newEnv(t)
	manager, secret := e.seedClient(t, "manager", []string{models.ScopeManage})
	managerToken := e.token(manager, secret, "")
	big := `[` + strings.Repeat(`{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"description":"`+strings.Repeat("d", 900)+`"},`, 2400)
	cases := []struct {
		name, body, token string
		status            int
		code, mention     string
	}{
		{"not JSON", `[{"name":`, "", 400, apierrors.CodeBadSyntax, "body"},
		{"empty", `[]`, "", 400, apierrors.CodeRequiredMissing, "at least one"},
		{"too many", mustJSON(bulkBodies(1001)), "", 400, apierrors.CodeLimitViolation, "1000"},
		{"not an object", `[{"name":"a","grantTypes":["CLIENT_CREDENTIALS"]}, 7]`, "", 400, apierrors.CodeBadSyntax, "[1]: must be a JSON object"},
		{"unknown member", `[{"name":"a","grantTypes":["CLIENT_CREDENTIALS"],"colour":"red"}]`, "", 400, apierrors.CodeIllegalValue, "[0].colour: unknown member"},
		{"read-only member", `[{"name":"a","grantTypes":["CLIENT_CREDENTIALS"]},{"name":"b","grantTypes":["CLIENT_CREDENTIALS"],"id":"x"}]`, "", 400, apierrors.CodeIllegalUpdate, "[1].id"},
		{"duplicate member", `[{"name":"a","name":"b","grantTypes":["CLIENT_CREDENTIALS"]}]`, "", 400, apierrors.CodeBadSyntax, "[0].name: duplicate member"},
		{"missing name", `[{"grantTypes":["CLIENT_CREDENTIALS"]}]`, "", 400, apierrors.CodeRequiredMissing, "[0].name"},
		{"scope not held", `[{"name":"a","grantTypes":["CLIENT_CREDENTIALS"]},{"name":"b","grantTypes":["CLIENT_CREDENTIALS"],"scope":["sp:scopes:all"]}]`, managerToken, 403, apierrors.CodeForbidden, "[1]."},
		{"over 2 MiB", big + `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"]}]`, "", 413, apierrors.CodePayloadTooLarge, ""},
		{"single body over 64 KiB", `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"description":"` + strings.Repeat("d", 70<<10) + `"}`, "", 413, apierrors.CodePayloadTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.do(request{method: http.MethodPost, path: "/oauth-clients", body: tc.body, token: tc.token}).wantError(tc.status, tc.code, tc.mention)
		})
	}
	if n := e.countClients(t, `name eq "a" or name eq "b" or name eq "x"`); n != 0 {
		t.Errorf("%d clients stored by refused bulk creates", n)
	}
	// Under 2 MiB an array is fine, though far over a single body's 64 KiB.
	okBig := `[` + strings.Repeat(`{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"description":"`+strings.Repeat("d", 900)+`"},`, 99) +
		`{"name":"x","grantTypes":["CLIENT_CREDENTIALS"]}]`
	e.do(request{method: http.MethodPost, path: "/oauth-clients", body: okBig}).wantStatus(http.StatusCreated)
	// A manager may bulk-create clients with the scopes it holds.
	e.do(request{method: http.MethodPost, path: "/oauth-clients", token: managerToken,
		body: `[{"name":"m","grantTypes":["CLIENT_CREDENTIALS"],"scope":["sp:oauth-client:manage"]}]`}).wantStatus(http.StatusCreated)
}

// dryRun applies to a bulk create: the answer as it would be, without
// secrets, and nothing stored.
func TestBulkCreateDryRun(t *testing.T) {
	e := newEnv(t)
	last, _ := e.store.LastEventSeq(context.Background())
	r := e.do(request{method: http.MethodPost, path: "/v3/oauth-clients?dryRun=true", body: bulkBodies(2)})
	r.wantStatus(http.StatusCreated)
	var got []map[string]any
	r.json(&got)
	if len(got) != 2 || got[0]["name"] != "bulk 0000" || got[0]["secret"] != nil || got[1]["secret"] != nil {
		t.Fatalf("dry run answer %s", r.Body)
	}
	if n := e.countClients(t, `name sw "bulk"`); n != 0 {
		t.Errorf("a dry run stored %d clients", n)
	}
	if now, _ := e.store.LastEventSeq(context.Background()); now != last {
		t.Errorf("a dry run recorded events")
	}
	bodies := bulkBodies(2)
	bodies[1]["name"] = ""
	e.do(request{method: http.MethodPost, path: "/oauth-clients?dryRun=true", body: bodies}).
		wantError(http.StatusBadRequest, apierrors.CodeRequiredMissing, "[1].name: must not be empty")
}
