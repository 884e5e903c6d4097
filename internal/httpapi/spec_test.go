package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"microtask/api"
)

type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract parses api/openapi.yaml once per test binary.
var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.Spec)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	// Match requests whatever host the test uses.
	doc.Servers = openapi3.Servers{{URL: "/api"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
})

func mustContract(t testing.TB) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return c
}

// checkResponse fails the test unless the response is one api/openapi.yaml
// documents for the request: its status is listed and its body matches the
// schema. Answers to requests the contract does not route must be problems
// the router or middleware give before any handler runs: 404, 405, 413.
func checkResponse(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	c := mustContract(t)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed &&
			rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s is not in api/openapi.yaml but answered %d", req.Method, req.URL.Path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: Content-Type = %q, want a problem", req.Method, req.URL.Path, ct)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  rec.Code,
		Header:  rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, which api/openapi.yaml does not allow:\n%v\nbody: %s",
			req.Method, req.URL.Path, rec.Code, err, rec.Body.String())
	}
	// Whatever a POST creates can be read where Location says, and the
	// contract says so.
	if rec.Code == http.StatusCreated {
		if rec.Header().Get("Location") == "" {
			t.Errorf("%s %s answered 201 without a Location", req.Method, req.URL.Path)
		}
		if res := route.Operation.Responses.Status(http.StatusCreated); res == nil || res.Value.Headers["Location"] == nil {
			t.Errorf("%s %s: api/openapi.yaml does not document the Location of its 201", req.Method, req.URL.Path)
		}
	}
}

// specRoutes lists the contract's operations as "METHOD /api/path/{param}":
// under /api, or under the path's own server (/uploads/{name} is at the
// root).
func specRoutes(t testing.TB) []string {
	c := mustContract(t)
	var out []string
	for path, item := range c.doc.Paths.Map() {
		base := "/api"
		if len(item.Servers) > 0 {
			base = strings.TrimSuffix(item.Servers[0].URL, "/")
		}
		for method := range item.Operations() {
			out = append(out, method+" "+base+path)
		}
	}
	slices.Sort(out)
	return out
}

// chiPattern turns a chi route pattern into the contract's form: chi adds a
// trailing "/*" to mounted routers and writes params the same way.
func chiPattern(route string) string {
	return strings.TrimSuffix(strings.TrimSuffix(route, "/*"), "/")
}
