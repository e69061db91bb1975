package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/clientele/clientele/sdk/clientele"
)

// BenchmarkBulkCreate1000 creates 1 000 clients over HTTP on a SQLite file:
// in one bulk create (SPEC §3), against 1 000 single creates one after the
// other, in one run.
func BenchmarkBulkCreate1000(b *testing.B) {
	env := map[string]string{"CLIENTELE_ADMIN_CLIENT_ID": "admin", "CLIENTELE_ADMIN_CLIENT_SECRET": testAdminSecret,
		"CLIENTELE_DB": "sqlite://" + filepath.Join(b.TempDir(), "bulk.db"), "CLIENTELE_RATE_LIMIT": "0"}
	s := startServer(b, env)
	ctx := context.Background()
	c, err := clientele.NewClientWithResponses(s.base)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.CreateTokenWithFormdataBodyWithResponse(ctx, clientele.CreateTokenFormdataRequestBody{
		GrantType: clientele.ClientCredentials, ClientId: ptr("admin"), ClientSecret: ptr(testAdminSecret)})
	if err != nil || tok.JSON200 == nil {
		b.Fatalf("token: %v %s", err, tok.Body)
	}
	auth := bearer(tok.JSON200.AccessToken)
	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"name":"bench %07d","grantTypes":["CLIENT_CREDENTIALS"],"redirectUris":["https://app%d.example/cb"]}`, i, i)
	}
	post := func(body []byte) {
		r, err := c.CreateOauthClientWithBodyWithResponse(ctx, &clientele.CreateOauthClientParams{}, "application/json", bytes.NewReader(body), auth)
		if err != nil || r.StatusCode() != http.StatusCreated {
			b.Fatalf("create: %v %d %.300s", err, r.StatusCode(), r.Body)
		}
	}
	next := 0
	b.Run("bulk", func(b *testing.B) {
		for range b.N {
			arr := []byte{'['}
			for j := range 1000 {
				if j > 0 {
					arr = append(arr, ',')
				}
				arr = append(arr, body(next+j)...)
			}
			next += 1000
			post(append(arr, ']'))
		}
	})
	b.Run("single-x1000", func(b *testing.B) {
		for range b.N {
			for j := range 1000 {
				post(body(next + j))
			}
			next += 1000
		}
	})
}
