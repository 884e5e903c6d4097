package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"microtask/internal/apperr"
	"microtask/internal/page"
)

// query reads URL query parameters and collects one error per bad one, so
// that a client learns about every mistake at once.
type query struct {
	values url.Values // parsed once: URL.Query parses the raw query on every call
	errors []apperr.FieldError
}

// newQuery reads r's query parameters. It refuses, for every endpoint at
// once, each parameter whose name or value is not UTF-8 text: it would
// reach the database, whose driver refuses such a string (a 500), or be
// echoed in a JSON answer. The readers below then see it as absent.
func newQuery(r *http.Request) *query {
	q := &query{values: r.URL.Query()}
	names := slices.Sorted(maps.Keys(q.values)) // errors in a stable order
	for _, name := range names {
		if utf8.ValidString(name) && !slices.ContainsFunc(q.values[name], notUTF8) {
			continue
		}
		q.fail(strings.ToValidUTF8(name, "\uFFFD"), "must be UTF-8 text")
		delete(q.values, name)
	}
	return q
}

func notUTF8(s string) bool { return !utf8.ValidString(s) }

func (q *query) fail(name, msg string) {
	q.errors = append(q.errors, apperr.FieldError{Field: name, Message: msg})
}

// int reads a whole number from lo to hi, or def when absent.
func (q *query) int(name string, def, lo, hi int) int {
	v := strings.TrimSpace(q.values.Get(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		q.fail(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

// text reads a string of at most max characters.
func (q *query) text(name string, max int) string {
	v := strings.TrimSpace(q.values.Get(name))
	if len([]rune(v)) > max {
		q.fail(name, fmt.Sprintf("must be at most %d characters", max))
		return ""
	}
	return v
}

// number reads a number from lo to hi, or 0 when absent.
func (q *query) number(name string, lo, hi float64) float64 {
	v := strings.TrimSpace(q.values.Get(name))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < lo || n > hi {
		q.fail(name, fmt.Sprintf("must be a number from %g to %g", lo, hi))
		return 0
	}
	return n
}

// all reads every value of a parameter that may repeat, each trimmed and
// of at most max characters; empty ones are left out.
func (q *query) all(name string, max int) []string {
	var out []string
	for _, v := range q.values[name] {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
		case len([]rune(v)) > max:
			q.fail(name, fmt.Sprintf("each must be at most %d characters", max))
			return nil
		default:
			out = append(out, v)
		}
	}
	return out
}

// oneOf reads one of the allowed values, or def when absent.
func (q *query) oneOf(name, def string, allowed ...string) string {
	v := strings.TrimSpace(q.values.Get(name))
	if v == "" {
		return def
	}
	if !slices.Contains(allowed, v) {
		q.fail(name, "must be one of: "+strings.Join(allowed, ", "))
		return def
	}
	return v
}

// page reads ?page and ?limit.
func (q *query) page() page.Request {
	return page.Request{
		Number: q.int("page", 1, 1, 1_000_000),
		Limit:  q.int("limit", page.DefaultLimit, 1, page.MaxLimit),
	}
}

// err returns the collected errors as one Invalid error, or nil.
func (q *query) err() error {
	if len(q.errors) == 0 {
		return nil
	}
	return apperr.InvalidFields(q.errors...)
}

// pageResponse is every list's shape: {items, page, limit, total}.
type pageResponse[T any] struct {
	Items []T   `json:"items"`
	Page  int   `json:"page"`
	Limit int   `json:"limit"`
	Total int64 `json:"total"`
}

// writePage answers a list request: it reads ?page and ?limit after the
// filters the handler has read from q, refuses every bad parameter at once,
// and writes the page list returns, each item converted by conv.
func writePage[S, T any](w http.ResponseWriter, q *query, list func(page.Request) (page.Of[S], error), conv func(S) T) error {
	p := q.page()
	if err := q.err(); err != nil {
		return err
	}
	res, err := list(p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPageResponse(res, conv))
}

func toPageResponse[S, T any](p page.Of[S], conv func(S) T) pageResponse[T] {
	items := make([]T, len(p.Items))
	for i, it := range p.Items {
		items[i] = conv(it)
	}
	return pageResponse[T]{Items: items, Page: p.Number, Limit: p.Limit, Total: p.Total}
}

// param returns the path parameter name, decoded. chi routes on the raw
// path when the client escaped something in it (a notification id's ':' as
// %3A, as encodeURIComponent and most HTTP clients do), and then hands its
// parameters over still escaped: every handler reads them here instead.
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v // net/http refuses a malformed escape before routing; kept as sent all the same
}
