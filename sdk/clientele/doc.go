// Package clientele is the Go client of Clientele's API, generated from its
// openapi.yaml with oapi-codegen. Regenerate it with `go generate
// ./sdk/...` after changing the spec; CI fails when the two disagree.
//
// Fetch a token with the client-credentials grant, then send it on every
// call with a request editor:
//
//	c, _ := clientele.NewClientWithResponses("http://localhost:8080")
//	tok, _ := c.CreateTokenWithFormdataBodyWithResponse(ctx, clientele.CreateTokenFormdataRequestBody{
//		GrantType: "client_credentials", ClientId: &id, ClientSecret: &secret})
//	bearer := func(_ context.Context, r *http.Request) error {
//		r.Header.Set("Authorization", "Bearer "+tok.JSON200.AccessToken)
//		return nil
//	}
//	page, _ := c.ListOauthClientsWithResponse(ctx, &clientele.ListOauthClientsParams{}, bearer)
package clientele

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../openapi.yaml
