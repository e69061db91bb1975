package main

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clientele/clientele/sdk/clientele"
)

func ptr[T any](v T) *T { return &v }

// oneBody and manyBodies are the two forms of createOauthClient's body.
func oneBody(t *testing.T, v clientele.CreateOAuthClientRequest) clientele.CreateOauthClientJSONRequestBody {
	t.Helper()
	var b clientele.CreateOAuthClientBody
	if err := b.FromCreateOAuthClientRequest(v); err != nil {
		t.Fatal(err)
	}
	return b
}

func manyBodies(t *testing.T, v ...clientele.CreateOAuthClientRequest) clientele.CreateOauthClientJSONRequestBody {
	t.Helper()
	var b clientele.CreateOAuthClientBody
	if err := b.FromCreateOAuthClientsRequest(v); err != nil {
		t.Fatal(err)
	}
	return b
}

func createdOne(t *testing.T, r *clientele.CreateOauthClientResponse) clientele.OAuthClientWithSecret {
	t.Helper()
	one, err := r.JSON201.AsOAuthClientWithSecret()
	if err != nil {
		t.Fatalf("decoding a created client: %v %s", err, r.Body)
	}
	return one
}

func bearer(tok string) clientele.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
}

// TestSDKWalkthrough drives the README walkthrough through the generated
// Go client against a live server, token included.
func TestSDKWalkthrough(t *testing.T) {
	env := map[string]string{"CLIENTELE_ADMIN_CLIENT_ID": "admin", "CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
		"CLIENTELE_DB": "sqlite://" + filepath.Join(t.TempDir(), "sdk.db")}
	s := startServer(t, env)
	ctx := context.Background()
	c, err := clientele.NewClientWithResponses(s.base)
	if err != nil {
		t.Fatal(err)
	}

	tok, err := c.CreateTokenWithFormdataBodyWithResponse(ctx, clientele.CreateTokenFormdataRequestBody{
		GrantType: clientele.ClientCredentials, ClientId: ptr("admin"), ClientSecret: ptr(testAdminSecret)})
	if err != nil || tok.JSON200 == nil {
		t.Fatalf("token: %v %s", err, tok.Body)
	}
	auth := bearer(tok.JSON200.AccessToken)

	createdResp, err := c.CreateOauthClientWithResponse(ctx, &clientele.CreateOauthClientParams{}, oneBody(t, clientele.CreateOAuthClientRequest{
		Name: "Acme CI", Tenant: ptr("acme"), GrantTypes: []clientele.GrantType{clientele.CLIENTCREDENTIALS},
		Scope: &[]string{"sp:oauth-client:read"}}), auth)
	if err != nil || createdResp.JSON201 == nil {
		t.Fatalf("create: %v %d %s", err, createdResp.StatusCode(), createdResp.Body)
	}
	created := createdOne(t, createdResp)
	id := created.Id
	if created.Secret == nil || len(*created.Secret) != 64 {
		t.Errorf("secret %v", created.Secret)
	}
	if loc := createdResp.HTTPResponse.Header.Get("Location"); loc != "/oauth-clients/"+id {
		t.Errorf("Location %q", loc)
	}

	got, err := c.GetOauthClientWithResponse(ctx, id, &clientele.GetOauthClientParams{}, auth)
	if err != nil || got.JSON200 == nil || got.JSON200.Name != "Acme CI" {
		t.Fatalf("get: %v %s", err, got.Body)
	}
	etag := got.HTTPResponse.Header.Get("ETag")

	patched, err := c.PatchOauthClientWithApplicationJSONPatchPlusJSONBodyWithResponse(ctx, id,
		&clientele.PatchOauthClientParams{IfMatch: &etag}, []clientele.JsonPatchOperation{
			{Op: clientele.Test, Path: "/name", Value: "Acme CI"},
			{Op: clientele.Replace, Path: "/description", Value: "Deploys Acme"},
			{Op: clientele.Add, Path: "/redirectUris/-", Value: "https://ci.acme.example/callback"},
		}, auth)
	if err != nil || patched.JSON200 == nil || patched.JSON200.Description == nil || *patched.JSON200.Description != "Deploys Acme" ||
		len(patched.JSON200.RedirectUris) != 1 {
		t.Fatalf("JSON Patch: %v %s", err, patched.Body)
	}

	merged, err := c.PatchOauthClientWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id, &clientele.PatchOauthClientParams{},
		clientele.OAuthClientMergePatch{BusinessName: ptr("Acme Corp")}, auth)
	if err != nil || merged.JSON200 == nil || merged.JSON200.BusinessName == nil || *merged.JSON200.BusinessName != "Acme Corp" {
		t.Fatalf("merge patch: %v %s", err, merged.Body)
	}

	list, err := c.ListOauthClientsWithResponse(ctx, &clientele.ListOauthClientsParams{
		Filters: ptr(`name sw "acme" and tenant eq "acme"`), Sorters: ptr("-created"), Limit: ptr(10), Count: ptr(true)}, auth)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 || list.HTTPResponse.Header.Get("X-Total-Count") != "1" {
		t.Fatalf("list: %v %s", err, list.Body)
	}

	// A refused patch: the SDK decodes SailPoint's envelope.
	from := "/secret"
	refused, err := c.PatchOauthClientWithApplicationJSONPatchPlusJSONBodyWithResponse(ctx, id, &clientele.PatchOauthClientParams{},
		[]clientele.JsonPatchOperation{{Op: clientele.Copy, From: &from, Path: "/description"}}, auth)
	if err != nil || refused.JSON400 == nil {
		t.Fatalf("refused patch: %v %d %s", err, refused.StatusCode(), refused.Body)
	}
	if refused.JSON400.DetailCode != "400.1.1 Illegal update attempt" ||
		refused.JSON400.TrackingId != refused.HTTPResponse.Header.Get("X-Request-ID") ||
		len(refused.JSON400.Causes) == 0 || !strings.Contains(refused.JSON400.Causes[0].Text, "/secret") {
		t.Errorf("envelope %+v", refused.JSON400)
	}

	rotated, err := c.RotateOauthClientSecretWithResponse(ctx, id, &clientele.RotateOauthClientSecretParams{}, clientele.RotateOauthClientSecretJSONRequestBody{}, auth)
	if err != nil || rotated.JSON200 == nil || rotated.JSON200.Secret == nil || *rotated.JSON200.Secret == *created.Secret {
		t.Fatalf("rotate: %v %s", err, rotated.Body)
	}

	deleted, err := c.DeleteOauthClientWithResponse(ctx, id, &clientele.DeleteOauthClientParams{}, auth)
	if err != nil || deleted.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %v %d", err, deleted.StatusCode())
	}
	gone, err := c.GetOauthClientWithResponse(ctx, id, &clientele.GetOauthClientParams{}, auth)
	if err != nil || gone.JSON404 == nil || gone.JSON404.DetailCode != "404 Not found" {
		t.Fatalf("get after delete: %v %s", err, gone.Body)
	}
}

// TestSailPointStyleClient calls Clientele the way SailPoint's SDKs do:
// every management path under /v3, and the token fetched with a
// multipart/form-data POST.
func TestSailPointStyleClient(t *testing.T) {
	env := map[string]string{"CLIENTELE_ADMIN_CLIENT_ID": "admin", "CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
		"CLIENTELE_DB": "sqlite://" + filepath.Join(t.TempDir(), "v3.db")}
	s := startServer(t, env)
	ctx := context.Background()

	var form bytes.Buffer
	w := multipart.NewWriter(&form)
	for k, v := range map[string]string{"grant_type": "client_credentials", "client_id": "admin", "client_secret": testAdminSecret} {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	root, _ := clientele.NewClientWithResponses(s.base)
	tok, err := root.CreateTokenWithBodyWithResponse(ctx, w.FormDataContentType(), &form)
	if err != nil || tok.JSON200 == nil {
		t.Fatalf("multipart token: %v %s", err, tok.Body)
	}
	auth := bearer(tok.JSON200.AccessToken)

	v3, _ := clientele.NewClientWithResponses(s.base + "/v3")
	createdResp, err := v3.CreateOauthClientWithResponse(ctx, &clientele.CreateOauthClientParams{}, oneBody(t, clientele.CreateOAuthClientRequest{
		Name: "from SailPoint", GrantTypes: []clientele.GrantType{clientele.CLIENTCREDENTIALS}}), auth)
	if err != nil || createdResp.JSON201 == nil {
		t.Fatalf("create under /v3: %v %s", err, createdResp.Body)
	}
	created := createdOne(t, createdResp)
	if loc := createdResp.HTTPResponse.Header.Get("Location"); loc != "/v3/oauth-clients/"+created.Id {
		t.Errorf("Location %q", loc)
	}
	patched, err := v3.PatchOauthClientWithApplicationJSONPatchPlusJSONBodyWithResponse(ctx, created.Id, &clientele.PatchOauthClientParams{},
		[]clientele.JsonPatchOperation{{Op: clientele.Replace, Path: "/enabled", Value: false}}, auth)
	if err != nil || patched.JSON200 == nil || patched.JSON200.Enabled {
		t.Fatalf("patch under /v3: %v %s", err, patched.Body)
	}
	list, err := v3.ListOauthClientsWithResponse(ctx, &clientele.ListOauthClientsParams{Filters: ptr(`enabled eq false`)}, auth)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 {
		t.Fatalf("list under /v3: %v %s", err, list.Body)
	}
	missing, err := v3.GetOauthClientWithResponse(ctx, "nope", &clientele.GetOauthClientParams{}, auth)
	if err != nil || missing.JSON404 == nil {
		t.Fatalf("404 under /v3: %v %s", err, missing.Body)
	}
}

// TestSDKBulkCreate creates several clients in one call through the
// generated client's array form of the body, and sees all or none stored.
func TestSDKBulkCreate(t *testing.T) {
	env := map[string]string{"CLIENTELE_ADMIN_CLIENT_ID": "admin", "CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
		"CLIENTELE_DB": "sqlite://" + filepath.Join(t.TempDir(), "bulk.db")}
	s := startServer(t, env)
	ctx := context.Background()
	c, err := clientele.NewClientWithResponses(s.base)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateTokenWithFormdataBodyWithResponse(ctx, clientele.CreateTokenFormdataRequestBody{
		GrantType: clientele.ClientCredentials, ClientId: ptr("admin"), ClientSecret: ptr(testAdminSecret)})
	if err != nil || tok.JSON200 == nil {
		t.Fatalf("token: %v %s", err, tok.Body)
	}
	auth := bearer(tok.JSON200.AccessToken)
	cc := []clientele.GrantType{clientele.CLIENTCREDENTIALS}

	r, err := c.CreateOauthClientWithResponse(ctx, &clientele.CreateOauthClientParams{}, manyBodies(t,
		clientele.CreateOAuthClientRequest{Name: "bulk one", GrantTypes: cc},
		clientele.CreateOAuthClientRequest{Name: "bulk two", Type: ptr(clientele.PUBLIC),
			RedirectUris: &[]string{"https://two.example/cb"}, GrantTypes: []clientele.GrantType{clientele.AUTHORIZATIONCODE}}), auth)
	if err != nil || r.JSON201 == nil {
		t.Fatalf("bulk create: %v %d %s", err, r.StatusCode(), r.Body)
	}
	many, err := r.JSON201.AsOAuthClientsWithSecrets()
	if err != nil || len(many) != 2 || many[0].Name != "bulk one" || many[1].Name != "bulk two" {
		t.Fatalf("bulk answer: %v %s", err, r.Body)
	}
	if many[0].Secret == nil || len(*many[0].Secret) != 64 || many[1].Secret != nil {
		t.Errorf("secrets: %v %v", many[0].Secret, many[1].Secret)
	}

	refused, err := c.CreateOauthClientWithResponse(ctx, &clientele.CreateOauthClientParams{}, manyBodies(t,
		clientele.CreateOAuthClientRequest{Name: "never", GrantTypes: cc},
		clientele.CreateOAuthClientRequest{Name: "", GrantTypes: cc}), auth)
	if err != nil || refused.JSON400 == nil || len(refused.JSON400.Causes) == 0 || !strings.HasPrefix(refused.JSON400.Causes[0].Text, "[1].name") {
		t.Fatalf("refused bulk create: %v %s", err, refused.Body)
	}
	list, err := c.ListOauthClientsWithResponse(ctx, &clientele.ListOauthClientsParams{Filters: ptr(`name eq "never"`)}, auth)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 0 {
		t.Fatalf("a refused bulk create stored something: %v %s", err, list.Body)
	}
}
