package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routeTable is every route's pattern with its methods, so that a request
// is matched against the routes before any of their middleware runs.
type routeTable struct {
	routes []routeMethods
}

type routeMethods struct {
	segs    []string // the pattern's segments; a {param} matches any one
	methods []string
}

func newRouteTable(r chi.Routes) *routeTable {
	byPattern := map[string][]string{}
	var patterns []string
	_ = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		if _, ok := byPattern[route]; !ok {
			patterns = append(patterns, route)
		}
		if !slices.Contains(byPattern[route], method) {
			byPattern[route] = append(byPattern[route], method)
		}
		return nil
	})
	t := &routeTable{}
	for _, p := range patterns {
		t.routes = append(t.routes, routeMethods{segs: strings.Split(p, "/"), methods: byPattern[p]})
	}
	return t
}

// methods returns the methods of the routes whose pattern matches path, a
// {param} matching any one segment, sorted; none when no route has path.
func (t *routeTable) methods(path string) []string {
	var out []string
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	for _, rt := range t.routes {
		if matches(rt.segs, segs) {
			for _, m := range rt.methods {
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func matches(pattern, segs []string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if p != segs[i] && !(strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}")) {
			return false
		}
	}
	return true
}

// guard answers a path that no route has with 404 route_not_found, and a
// method the path lacks with 405 method_not_allowed, before the routes'
// own middleware runs: otherwise an unknown path below /api/admin would
// ask for a token (401) or refuse the caller's role (403), as if it
// existed. The table may match more than chi does ({param} takes an empty
// segment, a trailing slash is ignored); chi's NotFound then answers.
func (t *routeTable) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods := t.methods(routingPath(r))
		switch {
		case len(methods) == 0:
			routeNotFound(w, r)
		case !slices.Contains(methods, r.Method):
			methodNotAllowed(w, r, methods)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// routeNotFound answers a request no route takes.
func routeNotFound(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(callerKey{}).(*caller); ok {
		c.noRoute = true
	}
	writeProblem(w, r, http.StatusNotFound, errRouteNotFound)
}

// methodNotAllowed answers a request whose path has routes, none for its
// method: RFC 9110 wants those methods in one Allow field.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, methods []string) {
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeProblem(w, r, http.StatusMethodNotAllowed, errMethodNotAllowed)
}

// routingPath is the path chi routes on: the raw one when the client
// escaped something in it.
func routingPath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.Path
}
