package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRegistrationModes starts the server in each --registration mode,
// by flag and by variable, and checks that the mode is the one served.
func TestRunRegistrationModes(t *testing.T) {
	body := `{"client_name":"e2e","grant_types":["client_credentials"]}`
	for _, tc := range []struct {
		name       string
		args       []string
		env        map[string]string
		wantStatus int
	}{
		{"off by default", nil, nil, http.StatusNotFound},
		{"token by flag", []string{"--registration", "token"}, nil, http.StatusUnauthorized},
		{"open by variable", nil, map[string]string{"CLIENTELE_REGISTRATION": "open"}, http.StatusCreated},
		{"the flag wins", []string{"--registration", "off"}, map[string]string{"CLIENTELE_REGISTRATION": "open"}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CLIENTELE_DB": "sqlite://" + filepath.Join(t.TempDir(), "c.db")}
			for k, v := range tc.env {
				env[k] = v
			}
			s := startServer(t, env, tc.args...)
			resp, got := s.call(t, "", http.MethodPost, "/oauth/register", "application/json", body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, got)
			}
			if tc.wantStatus == http.StatusUnauthorized && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tc.wantStatus != http.StatusCreated {
				return
			}
			var reg struct {
				ClientID                string `json:"client_id"`
				RegistrationAccessToken string `json:"registration_access_token"`
				RegistrationClientURI   string `json:"registration_client_uri"`
			}
			if err := json.Unmarshal(got, &reg); err != nil {
				t.Fatal(err)
			}
			if reg.RegistrationClientURI != s.base+"/oauth/register/"+reg.ClientID {
				t.Errorf("registration_client_uri %q, want under the default issuer %s", reg.RegistrationClientURI, s.base)
			}
			resp, got = s.call(t, reg.RegistrationAccessToken, http.MethodGet, "/oauth/register/"+reg.ClientID, "", "")
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), `"scope":"sp:scopes:default"`) {
				t.Errorf("read back: %d %s", resp.StatusCode, got)
			}
		})
	}
}
