package handlers

import (
	"testing"
	"time"

	"github.com/clientele/clientele/models"
)

func benchClient() models.OAuthClient {
	c := models.NewClient()
	c.ID = "0123456789abcdef0123456789abcdef"
	c.Name = "Acme deploy bot"
	d, t := "Deploys Acme's services", "acme"
	c.Description, c.Tenant = &d, &t
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	c.RedirectURIs = []string{"https://a.example/cb", "https://b.example/cb"}
	c.Created = time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC)
	c.Modified, c.LastUsed = c.Created, &c.Created
	return c
}

// BenchmarkRenderClient is the body and ETag of every GET and PATCH answer.
func BenchmarkRenderClient(b *testing.B) {
	c := benchClient()
	b.ReportAllocs()
	for b.Loop() {
		if body, _ := renderClient(&c, c.Created); len(body) == 0 {
			b.Fatal("no body")
		}
	}
}

// TestRenderClientGolden holds the representation, and so every ETag, to
// the bytes encoding/json wrote for the response struct this renderer
// replaced: a client's ETag does not change when the server is upgraded
// (unless the upgrade adds members, as audience and the credentials did).
func TestRenderClientGolden(t *testing.T) {
	c := benchClient()
	c.Name = "Acme <deploy> & \"bot\" é \u2028"
	d := "line\nbreak\ttab \x7f"
	c.Description = &d
	c.RedirectURIs[0] = "https://a.example/cb?x=1&y=<2>"
	c.Modified = c.Created.Add(time.Hour)
	var empty models.OAuthClient
	empty.ID = "x"
	for _, tt := range []struct {
		c          models.OAuthClient
		body, etag string
	}{
		{c, `{"id":"0123456789abcdef0123456789abcdef","businessName":null,"homepageUrl":null,"name":"Acme \u003cdeploy\u003e \u0026 \"bot\" é \u2028","description":"line\nbreak\ttab ` + "\x7f" + `","tenant":"acme","accessTokenValiditySeconds":3600,"refreshTokenValiditySeconds":86400,"redirectUris":["https://a.example/cb?x=1\u0026y=\u003c2\u003e","https://b.example/cb"],"grantTypes":["CLIENT_CREDENTIALS"],"accessType":"ONLINE","type":"CONFIDENTIAL","internal":false,"enabled":true,"strongAuthSupported":false,"claimsSupported":false,"created":"2024-01-02T03:04:05.006Z","modified":"2024-01-02T04:04:05.006Z","lastUsed":"2024-01-02T03:04:05.006Z","scope":["sp:scopes:default"],"secrets":[],"tokenEndpointAuthMethods":["client_secret_basic","client_secret_post"],"jwks":null,"jwksUri":null,"audience":[]}`,
			`"1896536593090a0cb736f1efdd996c04"`},
		{empty, `{"id":"x","businessName":null,"homepageUrl":null,"name":"","description":null,"tenant":null,"accessTokenValiditySeconds":0,"refreshTokenValiditySeconds":0,"redirectUris":[],"grantTypes":[],"accessType":"","type":"","internal":false,"enabled":false,"strongAuthSupported":false,"claimsSupported":false,"created":"0001-01-01T00:00:00.000Z","modified":"0001-01-01T00:00:00.000Z","lastUsed":null,"scope":[],"secrets":[],"tokenEndpointAuthMethods":[],"jwks":null,"jwksUri":null,"audience":[]}`,
			`"0d8d5920441c1830a2f7f3fc3a5ab0da"`},
	} {
		body, etag := renderClient(&tt.c, tt.c.Created)
		if string(body) != tt.body || etag != tt.etag {
			t.Errorf("got  %s %s\nwant %s %s", body, etag, tt.body, tt.etag)
		}
	}
}
