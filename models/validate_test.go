package models_test

import (
	"reflect"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

func ptr[T any](v T) *T { return &v }

func valid() models.OAuthClient {
	c := models.NewClient()
	c.ID = "0123456789abcdef0123456789abcdef"
	c.Name = "Acme"
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*models.OAuthClient)
		code   string // "" when valid
		field  string
	}{
		{"defaults", func(*models.OAuthClient) {}, "", ""},
		{"bootstrap id", func(c *models.OAuthClient) { c.ID = "admin_Client-1" }, "", ""},
		{"bad id", func(c *models.OAuthClient) { c.ID = "has space" }, apierrors.CodeIllegalValue, "id"},
		{"empty name", func(c *models.OAuthClient) { c.Name = "  " }, apierrors.CodeRequiredMissing, "name"},
		{"long name", func(c *models.OAuthClient) { c.Name = strings.Repeat("é", 129) }, apierrors.CodeLengthOutOfRange, "name"},
		{"name of 128 runes", func(c *models.OAuthClient) { c.Name = strings.Repeat("é", 128) }, "", ""},
		{"control in name", func(c *models.OAuthClient) { c.Name = "a\x00b" }, apierrors.CodeIllegalValue, "name"},
		{"newline in description", func(c *models.OAuthClient) { c.Description = ptr("a\nb") }, "", ""},
		{"NUL in description", func(c *models.OAuthClient) { c.Description = ptr("a\x00b") }, apierrors.CodeIllegalValue, "description"},
		{"long description", func(c *models.OAuthClient) { c.Description = ptr(strings.Repeat("d", 2049)) }, apierrors.CodeLengthOutOfRange, "description"},
		{"long tenant", func(c *models.OAuthClient) { c.Tenant = ptr(strings.Repeat("t", 256)) }, apierrors.CodeLengthOutOfRange, "tenant"},
		{"long businessName", func(c *models.OAuthClient) { c.BusinessName = ptr(strings.Repeat("b", 256)) }, apierrors.CodeLengthOutOfRange, "businessName"},
		{"homepage https", func(c *models.OAuthClient) { c.HomepageURL = ptr("https://acme.example/") }, "", ""},
		{"homepage relative", func(c *models.OAuthClient) { c.HomepageURL = ptr("/acme") }, apierrors.CodeIllegalValue, "homepageUrl"},
		{"homepage ftp", func(c *models.OAuthClient) { c.HomepageURL = ptr("ftp://acme.example") }, apierrors.CodeIllegalValue, "homepageUrl"},
		{"access validity low", func(c *models.OAuthClient) { c.AccessTokenValiditySeconds = 59 }, apierrors.CodeIllegalValue, "accessTokenValiditySeconds"},
		{"access validity high", func(c *models.OAuthClient) { c.AccessTokenValiditySeconds = 86401 }, apierrors.CodeIllegalValue, "accessTokenValiditySeconds"},
		{"refresh validity high", func(c *models.OAuthClient) { c.RefreshTokenValiditySeconds = 31536001 }, apierrors.CodeIllegalValue, "refreshTokenValiditySeconds"},
		{"redirect https", func(c *models.OAuthClient) { c.RedirectURIs = []string{"https://a.example/cb?x=1"} }, "", ""},
		{"redirect loopback http", func(c *models.OAuthClient) {
			c.RedirectURIs = []string{"http://localhost/cb", "http://127.0.0.1:8000/cb", "http://[::1]:9/cb"}
		}, "", ""},
		{"redirect private-use", func(c *models.OAuthClient) { c.RedirectURIs = []string{"com.example.app:/cb"} }, "", ""},
		{"redirect http remote", func(c *models.OAuthClient) { c.RedirectURIs = []string{"http://a.example/cb"} }, apierrors.CodeIllegalValue, "redirectUris/0"},
		{"redirect fragment", func(c *models.OAuthClient) { c.RedirectURIs = []string{"https://a.example/cb#x"} }, apierrors.CodeIllegalValue, "redirectUris/0"},
		{"redirect relative", func(c *models.OAuthClient) { c.RedirectURIs = []string{"/cb"} }, apierrors.CodeIllegalValue, "redirectUris/0"},
		{"redirect scheme without dot", func(c *models.OAuthClient) { c.RedirectURIs = []string{"myapp:/cb"} }, apierrors.CodeIllegalValue, "redirectUris/0"},
		{"audience", func(c *models.OAuthClient) {
			c.Audience = []string{"https://api.example", "urn:x", strings.Repeat("a", 2048)}
		}, "", ""},
		{"audience of 32", func(c *models.OAuthClient) {
			for i := range 32 {
				c.Audience = append(c.Audience, strings.Repeat("a", i+1))
			}
		}, "", ""},
		{"audience of 33", func(c *models.OAuthClient) {
			for i := range 33 {
				c.Audience = append(c.Audience, strings.Repeat("a", i+1))
			}
		}, apierrors.CodeIllegalValue, "audience"},
		{"audience duplicate", func(c *models.OAuthClient) { c.Audience = []string{"a", "a"} }, apierrors.CodeIllegalValue, "audience/1"},
		{"audience empty value", func(c *models.OAuthClient) { c.Audience = []string{""} }, apierrors.CodeLengthOutOfRange, "audience/0"},
		{"audience too long", func(c *models.OAuthClient) { c.Audience = []string{strings.Repeat("a", 2049)} }, apierrors.CodeLengthOutOfRange, "audience/0"},
		{"audience whitespace", func(c *models.OAuthClient) { c.Audience = []string{"a\tb"} }, apierrors.CodeIllegalValue, "audience/0"},
		{"redirect javascript", func(c *models.OAuthClient) { c.RedirectURIs = []string{"javascript:alert(1)"} }, apierrors.CodeIllegalValue, "redirectUris/0"},
		{"redirect duplicate", func(c *models.OAuthClient) { c.RedirectURIs = []string{"https://a.example", "https://a.example"} }, apierrors.CodeIllegalValue, "redirectUris/1"},
		{"redirect too long", func(c *models.OAuthClient) {
			c.RedirectURIs = []string{"https://a.example/" + strings.Repeat("x", 2048)}
		}, apierrors.CodeLengthOutOfRange, "redirectUris/0"},
		{"too many redirects", func(c *models.OAuthClient) {
			for i := 0; i < 65; i++ {
				c.RedirectURIs = append(c.RedirectURIs, "https://a.example/"+strings.Repeat("x", i))
			}
		}, apierrors.CodeIllegalValue, "redirectUris"},
		{"no grant", func(c *models.OAuthClient) { c.GrantTypes = nil }, apierrors.CodeRequiredMissing, "grantTypes"},
		{"unknown grant", func(c *models.OAuthClient) { c.GrantTypes = []models.GrantType{"PASSWORD"} }, apierrors.CodeIllegalValue, "grantTypes/0"},
		{"lowercase grant", func(c *models.OAuthClient) { c.GrantTypes = []models.GrantType{"client_credentials"} }, apierrors.CodeIllegalValue, "grantTypes/0"},
		{"duplicate grant", func(c *models.OAuthClient) {
			c.GrantTypes = []models.GrantType{models.GrantClientCredentials, models.GrantClientCredentials}
		}, apierrors.CodeIllegalValue, "grantTypes/1"},
		{"code without redirect", func(c *models.OAuthClient) { c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode} }, apierrors.CodeIllegalValue, "grantTypes"},
		{"refresh without code", func(c *models.OAuthClient) {
			c.GrantTypes = []models.GrantType{models.GrantClientCredentials, models.GrantRefreshToken}
		}, apierrors.CodeIllegalValue, "grantTypes"},
		{"public with client credentials", func(c *models.OAuthClient) { c.Type = models.TypePublic }, apierrors.CodeIllegalValue, "grantTypes"},
		{"bad access type", func(c *models.OAuthClient) { c.AccessType = "online" }, apierrors.CodeIllegalValue, "accessType"},
		{"bad type", func(c *models.OAuthClient) { c.Type = "SECRET" }, apierrors.CodeIllegalValue, "type"},
		{"bad scope token", func(c *models.OAuthClient) { c.Scope = []string{"a b"} }, apierrors.CodeIllegalValue, "scope/0"},
		{"scope with quote", func(c *models.OAuthClient) { c.Scope = []string{`a"b`} }, apierrors.CodeIllegalValue, "scope/0"},
		{"duplicate scope", func(c *models.OAuthClient) { c.Scope = []string{"a", "a"} }, apierrors.CodeIllegalValue, "scope/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			before := c.Clone()
			err := c.Validate()
			if !reflect.DeepEqual(before, c.Clone()) {
				t.Error("Validate changed the client")
			}
			if got := apierrors.DetailCodeOf(err); got != tt.code {
				t.Fatalf("detailCode = %q, want %q (err %v)", got, tt.code, err)
			}
			if tt.field != "" {
				found := false
				for _, cause := range c.Causes() {
					if cause.Field == tt.field {
						found = true
					}
				}
				if !found {
					t.Errorf("no cause names %q: %v", tt.field, c.Causes())
				}
			}
		})
	}
}

func TestValidateCredentials(t *testing.T) {
	jwks := models.KeySet(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`)
	uri := "https://keys.example/jwks"
	tests := []struct {
		name   string
		mutate func(*models.OAuthClient)
		field  string // "" for valid
	}{
		{"defaults", func(*models.OAuthClient) {}, ""},
		{"private_key_jwt with jwks", func(c *models.OAuthClient) {
			c.TokenEndpointAuthMethods = []models.AuthMethod{models.AuthPrivateKeyJWT}
			c.JWKS = jwks
		}, ""},
		{"private_key_jwt with jwksUri", func(c *models.OAuthClient) {
			c.TokenEndpointAuthMethods = []models.AuthMethod{models.AuthPrivateKeyJWT}
			c.JWKSURI = &uri
		}, ""},
		{"private_key_jwt without keys", func(c *models.OAuthClient) {
			c.TokenEndpointAuthMethods = []models.AuthMethod{models.AuthPrivateKeyJWT}
		}, "tokenEndpointAuthMethods"},
		{"both jwks and jwksUri", func(c *models.OAuthClient) { c.JWKS, c.JWKSURI = jwks, &uri }, "jwksUri"},
		{"no methods", func(c *models.OAuthClient) { c.TokenEndpointAuthMethods = nil }, "tokenEndpointAuthMethods"},
		{"unknown method", func(c *models.OAuthClient) { c.TokenEndpointAuthMethods = []models.AuthMethod{"tls_client_auth"} }, "tokenEndpointAuthMethods/0"},
		{"duplicate method", func(c *models.OAuthClient) {
			c.TokenEndpointAuthMethods = []models.AuthMethod{models.AuthSecretPost, models.AuthSecretPost}
		}, "tokenEndpointAuthMethods/1"},
		{"none on a confidential client", func(c *models.OAuthClient) { c.TokenEndpointAuthMethods = []models.AuthMethod{models.AuthNone} }, "tokenEndpointAuthMethods"},
		{"a private key in jwks", func(c *models.OAuthClient) {
			c.JWKS = models.KeySet(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`)
		}, "jwks/keys/0"},
		{"jwks not a set", func(c *models.OAuthClient) { c.JWKS = models.KeySet(`"keys"`) }, "jwks"},
		{"http jwksUri", func(c *models.OAuthClient) { u := "http://keys.example/jwks"; c.JWKSURI = &u }, "jwksUri"},
		{"loopback http jwksUri", func(c *models.OAuthClient) { u := "http://127.0.0.1:9/jwks"; c.JWKSURI = &u }, ""},
	}
	for _, tt := range tests {
		c := valid()
		tt.mutate(&c)
		causes := c.Causes()
		switch {
		case tt.field == "" && len(causes) > 0:
			t.Errorf("%s: %v", tt.name, causes)
		case tt.field != "" && (len(causes) == 0 || causes[0].Field != tt.field):
			t.Errorf("%s: causes %v, want one on %s", tt.name, causes, tt.field)
		}
	}
	pub := valid()
	pub.Type, pub.GrantTypes = models.TypePublic, []models.GrantType{models.GrantAuthorizationCode}
	pub.RedirectURIs = []string{"https://a.example/cb"}
	if causes := pub.Causes(); len(causes) == 0 {
		t.Error("a PUBLIC client with secret methods is valid")
	}
	pub.TokenEndpointAuthMethods = models.DefaultAuthMethods(models.TypePublic)
	if causes := pub.Causes(); len(causes) > 0 {
		t.Errorf("a PUBLIC client with none: %v", causes)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := valid()
	c.Name = ""
	c.AccessTokenValiditySeconds = 1
	c.RedirectURIs = []string{"http://a.example"}
	if got := len(c.Causes()); got != 3 {
		t.Errorf("causes = %d, want 3: %v", got, c.Causes())
	}
}

func TestInvalidatesTokens(t *testing.T) {
	base := valid()
	base.Secrets = []models.Secret{{ID: "a", Hash: []byte{1}}}
	tests := []struct {
		name   string
		mutate func(*models.OAuthClient)
		want   bool
	}{
		{"rename", func(c *models.OAuthClient) { c.Name = "other" }, false},
		{"disable", func(c *models.OAuthClient) { c.Enabled = false }, true},
		{"add a secret", func(c *models.OAuthClient) { c.Secrets = append(c.Secrets, models.Secret{ID: "b"}) }, false},
		{"drop client credentials", func(c *models.OAuthClient) { c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode} }, true},
	}
	for _, tt := range tests {
		after := base.Clone()
		tt.mutate(&after)
		if got := models.InvalidatesTokens(&base, &after); got != tt.want {
			t.Errorf("%s: InvalidatesTokens = %v, want %v", tt.name, got, tt.want)
		}
		if models.SameStoredValues(&base, &after) {
			t.Errorf("%s: SameStoredValues after a change", tt.name)
		}
	}
	same := base.Clone()
	if !models.SameStoredValues(&base, &same) {
		t.Error("SameStoredValues of a clone is false")
	}
}
