package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
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
	"microtask/internal/upload"
)

type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract parses api/openapi.yaml once per test binary.
var loadContract = sync.OnceValues(func() (*contract, error) {
	// The reference page's files, batch results and invoices' PDF
	// documents are bodies kin-openapi has no decoder for.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "text/csv", "application/pdf"} {
		openapi3filter.RegisterBodyDecoder(ct, textBody)
	}
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

func textBody(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	return string(data), err
}

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
	if strings.HasPrefix(req.URL.Path, upload.PathPrefix) {
		// The images' own URLs at the root answer as the contract's
		// /api/uploads/{name}.
		req = req.Clone(req.Context())
		req.URL.Path = "/api" + req.URL.Path
	}
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
// every path is below the one server URL, which ends in /api.
func specRoutes(t testing.TB) []string {
	c := mustContract(t)
	var out []string
	for path, item := range c.doc.Paths.Map() {
		if len(item.Servers) > 0 {
			t.Errorf("%s has its own servers: generated clients ignore them", path)
		}
		for method := range item.Operations() {
			out = append(out, method+" /api"+path)
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

// TestContractConventions keeps api/openapi.yaml as generated clients and
// Postman need it (issue 15); `make lint` runs Redocly on the rest. Every
// named schema has an example (kin-openapi checks that it matches); every
// body is a named schema; every operation lists the shared answers it can
// get: 404 and 405 (a path or method this deployment lacks), 500, and 413
// on the methods that carry a body (the limit runs before the token is
// checked).
func TestContractConventions(t *testing.T) {
	c := mustContract(t)
	for name, s := range c.doc.Components.Schemas {
		if s.Value.Example == nil {
			t.Errorf("components/schemas/%s has no example", name)
		}
	}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if mt.Schema == nil || !strings.HasPrefix(mt.Schema.Ref, "#/components/schemas/") {
						t.Errorf("%s: the %s request body is not a named schema", where, ct)
					}
				}
			}
			shared := map[string]string{"404": "NotFound", "405": "MethodNotAllowed", "500": "InternalError"}
			if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete {
				shared["413"] = "PayloadTooLarge"
			}
			for status, name := range shared {
				r := op.Responses.Value(status)
				if r == nil || r.Ref != "#/components/responses/"+name {
					t.Errorf("%s: %s is not the shared %s", where, status, name)
				}
			}
			if r := op.Responses.Value("429"); r != nil && r.Ref != "#/components/responses/RateLimited" {
				t.Errorf("%s: 429 is not the shared RateLimited", where)
			}
			for status, r := range op.Responses.Map() {
				for ct, mt := range r.Value.Content {
					if mt.Schema == nil || !strings.HasPrefix(mt.Schema.Ref, "#/components/schemas/") {
						t.Errorf("%s: the %s %s answer is not a named schema", where, status, ct)
					}
				}
			}
		}
	}
}

// TestRequestSchemasHaveNoDefaults: no schema a request body uses carries
// `default` (issue 20). Generators read a default as "always present":
// openapi-typescript makes such a property required in the request type, so
// a client would have to send what the server fills in. A property that may
// be left out says its default in its description instead. (Query
// parameters keep theirs: generators leave parameters optional.)
func TestRequestSchemasHaveNoDefaults(t *testing.T) {
	c := mustContract(t)
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		if s.Ref != "" {
			where = strings.TrimPrefix(s.Ref, "#/components/")
		}
		v := s.Value
		seen[v] = true
		if v.Default != nil {
			t.Errorf("%s has default %v; say it in the description instead", where, v.Default)
		}
		for name, p := range v.Properties {
			walk(where+"."+name, p)
		}
		walk(where+"[]", v.Items)
		for _, list := range [][]*openapi3.SchemaRef{v.AllOf, v.OneOf, v.AnyOf} {
			for i, sub := range list {
				walk(fmt.Sprintf("%s/%d", where, i), sub)
			}
		}
		walk(where+"{}", v.AdditionalProperties.Schema)
	}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			for ct, mt := range op.RequestBody.Value.Content {
				walk(method+" "+path+" "+ct, mt.Schema)
			}
		}
	}
}
