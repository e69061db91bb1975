package registration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/models"
)

// TestREADMEHasTheTable holds README's mapping table to the one in code:
// the same fields, members and order.
func TestREADMEHasTheTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "| RFC 7591 metadata | member |")
	if !ok {
		t.Fatal("README has no table of RFC 7591 metadata")
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| `([A-Za-z]+)`")
	var got [][2]string
	for _, line := range strings.Split(section, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("README row %q names no field and member", line)
		}
		got = append(got, [2]string{m[1], m[2]})
	}
	want := Names()
	if len(got) != len(want) {
		t.Fatalf("README table %v, code %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: README %v, code %v", i, got[i], want[i])
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"off", "token", "open"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "OFF", "on", "tokens"} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) accepted", s)
		}
	}
}

func TestAccessTokens(t *testing.T) {
	tok, hash, err := NewAccessToken()
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := NewAccessToken()
	if len(tok) != 43 || tok == other || bytes.Contains(hash, []byte(tok)) {
		t.Fatalf("tokens %q %q", tok, other)
	}
	cl := models.NewClient()
	if AccessTokenMatches(&cl, tok) || AccessTokenMatches(&cl, "") {
		t.Error("a client registered otherwise matched a token")
	}
	cl.RegistrationTokenHash = hash
	if !AccessTokenMatches(&cl, tok) || AccessTokenMatches(&cl, other) || AccessTokenMatches(&cl, tok+"x") {
		t.Error("a token matched another's hash, or its own did not")
	}
}

func code(err error) authserver.Code {
	var e *authserver.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestNewClientDefaultsAndMapping(t *testing.T) {
	req, err := ParseRequest([]byte(`{"client_name":"CI","client_uri":"https://ci.example","grant_types":["client_credentials"],
		"token_endpoint_auth_method":"client_secret_post","scope":"a b","software_statement":"ignored","client_name#ja":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := req.NewClient("0190f1a2b3c47d8e9fa0b1c2d3e4f5a6")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Name != "CI" || *cl.HomepageURL != "https://ci.example" || cl.Type != models.TypeConfidential ||
		len(cl.TokenEndpointAuthMethods) != 1 || cl.TokenEndpointAuthMethods[0] != models.AuthSecretPost ||
		strings.Join(cl.Scope, " ") != "a b" || !cl.HasGrant(models.GrantClientCredentials) || !cl.AuthenticatesBySecret() {
		t.Errorf("client %+v", cl)
	}
	req, _ = ParseRequest([]byte(`{}`))
	cl, err = req.NewClient("0190f1a2b3c47d8e9fa0b1c2d3e4f5a6")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Name != cl.ID || cl.TokenEndpointAuthMethods[0] != models.AuthSecretBasic || cl.Scope[0] != models.ScopeDefault ||
		cl.GrantTypes[0] != models.GrantClientCredentials {
		t.Errorf("defaults %+v", cl)
	}
	out, _ := json.Marshal(Response(&cl, Issued{ClientURI: "http://x/oauth/register/" + cl.ID}, time.Now()))
	for _, absent := range []string{"client_uri", "jwks", "jwks_uri", "client_secret", "registration_access_token", "client_secret_expires_at"} {
		if bytes.Contains(out, []byte(`"`+absent+`"`)) {
			t.Errorf("response %s holds %s", out, absent)
		}
	}
}

func TestCausesNameTheField(t *testing.T) {
	for body, want := range map[string]string{
		`{"redirect_uris":["http://a.example/cb"],"grant_types":["authorization_code"]}`: "invalid_redirect_uri: redirect_uris/0: ",
		`{"token_endpoint_auth_method":"private_key_jwt"}`:                               "invalid_client_metadata: token_endpoint_auth_method: private_key_jwt needs",
		`{"scope":"a \"b"}`:                                  "invalid_client_metadata: scope: must be an RFC 6749 scope token",
		`{"jwks_uri":"ftp://keys.example"}`:                  "invalid_client_metadata: jwks_uri: ",
		`{"grant_types":["refresh_token"]}`:                  "invalid_client_metadata: grant_types: REFRESH_TOKEN needs",
		`{"client_name":["a"]}`:                              "invalid_client_metadata: client_name: must be a string",
		`{"redirect_uris":"https://a.example/cb"}`:           "invalid_client_metadata: redirect_uris: must be an array of strings",
		`{"token_endpoint_auth_method":"client_secret_jwt"}`: "invalid_client_metadata: token_endpoint_auth_method: must be",
	} {
		req, err := ParseRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = req.NewClient("0190f1a2b3c47d8e9fa0b1c2d3e4f5a6")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %q…", body, err, want)
		}
	}
}

func TestReplacedKeepsWhatMetadataCannotReach(t *testing.T) {
	cur := models.NewClient()
	cur.ID, cur.Name = "0190f1a2b3c47d8e9fa0b1c2d3e4f5a6", "before"
	cur.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	cur.Scope = []string{"a", "b"}
	desc := "kept"
	cur.Description, cur.Audience = &desc, []string{"https://api.example"}
	req, _ := ParseRequest([]byte(`{"client_id":"0190f1a2b3c47d8e9fa0b1c2d3e4f5a6","client_name":"after"}`))
	next, err := req.Replaced(&cur, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if next.Name != "after" || *next.Description != "kept" || next.Audience[0] != "https://api.example" ||
		strings.Join(next.Scope, " ") != "a b" {
		t.Errorf("replaced %+v", next)
	}
	for body, c := range map[string]authserver.Code{
		`{"scope":"a"}`: authserver.InvalidClientMetadata,
		`{"token_endpoint_auth_method":"none","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"]}`: authserver.InvalidClientMetadata,
	} {
		req, _ := ParseRequest([]byte(body))
		if _, err := req.Replaced(&cur, time.Now()); code(err) != c {
			t.Errorf("%s: %v, want %s", body, err, c)
		}
	}
}

func TestCheckScope(t *testing.T) {
	cl := models.NewClient()
	cl.Scope = []string{models.ScopeDefault, models.ScopeRead}
	if err := CheckScope(&cl, Open, nil); code(err) != authserver.InvalidClientMetadata {
		t.Errorf("open mode granted %v: %v", cl.Scope, err)
	}
	if err := CheckScope(&cl, Token, []string{models.ScopeManage}); code(err) != authserver.InvalidClientMetadata {
		t.Errorf("a token without read granted it: %v", err)
	}
	for _, held := range [][]string{{models.ScopeManage, models.ScopeRead}, {models.ScopeAll}} {
		if err := CheckScope(&cl, Token, held); err != nil {
			t.Errorf("held %v: %v", held, err)
		}
	}
	cl.Scope = []string{models.ScopeDefault}
	if err := CheckScope(&cl, Open, nil); err != nil {
		t.Errorf("open mode refused the default scope: %v", err)
	}
}
