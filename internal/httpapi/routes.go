package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routeTable is every route's pattern with its methods, for the Allow
// header of a 405.
type routeTable map[string][]string

func newRouteTable(r chi.Routes) routeTable {
	t := routeTable{}
	_ = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		if !slices.Contains(t[route], method) {
			t[route] = append(t[route], method)
		}
		return nil
	})
	return t
}

// methods returns the methods of the routes whose pattern matches path, a
// {param} matching any one segment.
func (t routeTable) methods(path string) []string {
	var out []string
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	for pattern, ms := range t {
		if matches(strings.Split(pattern, "/"), segs) {
			for _, m := range ms {
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
