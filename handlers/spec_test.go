package handlers_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The tests hold the server to openapi.yaml: every response of env.do is
// validated against it (status, headers, body), and so is every request.

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func specRouterFor(t *testing.T) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile("../openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		if specErr = doc.Validate(context.Background()); specErr != nil {
			return
		}
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
		// Match any host: the tests' requests name none.
		doc.Servers = openapi3.Servers{{URL: "/"}}
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return specRouter
}

// checkAgainstSpec validates one exchange. A request the spec refuses must
// have been refused by the server too (a 4xx); every response must be one
// the spec documents for that operation, with a body of its schema.
func checkAgainstSpec(t *testing.T, req *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	router := specRouterFor(t)
	if req.Method == http.MethodOptions {
		return // CORS preflights are answered by the protocol, not the API
	}
	// The /v3 alias behaves as the documented root paths.
	probe := req.Clone(context.Background())
	probe.URL.Path = strings.TrimPrefix(probe.URL.Path, "/v3")
	probe.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(probe)
	if err != nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in openapi.yaml but answered %d", req.Method, req.URL.Path, rec.Code)
		}
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && rec.Code < 400 {
		t.Errorf("%s %s: the server answered %d to a request openapi.yaml refuses: %v", req.Method, req.URL, rec.Code, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\nbody: %.400s", req.Method, req.URL, rec.Code, err, rec.Body)
	}
}
