package metrics

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestRequestMethodLabel: the method label takes the standard methods as
// they are and any other a client sends as OTHER, so that made-up methods
// cannot add series without bound (issue 20: 40 of them added 760 lines to
// /metrics).
func TestRequestMethodLabel(t *testing.T) {
	tests := []struct {
		method, want string
	}{
		{http.MethodGet, "GET"},
		{http.MethodHead, "HEAD"},
		{http.MethodPost, "POST"},
		{http.MethodPut, "PUT"},
		{http.MethodPatch, "PATCH"},
		{http.MethodDelete, "DELETE"},
		{http.MethodOptions, "OPTIONS"},
		{http.MethodConnect, "CONNECT"},
		{http.MethodTrace, "TRACE"},
		{"get", "OTHER"}, // methods are case-sensitive
		{"PROPFIND", "OTHER"},
		{"XYZZY", "OTHER"},
		{"", "OTHER"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			m := New()
			m.Request("/api/tasks", tt.method, http.StatusMethodNotAllowed, time.Millisecond)
			if got := methodLabels(t, m); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("Request(%q) method labels = %q, want [%q]", tt.method, got, tt.want)
			}
		})
	}

	m := New()
	for i := range 40 {
		m.Request("", "MADEUP"+string(rune('A'+i%26))+string(rune('A'+i/26)), http.StatusNotFound, time.Millisecond)
	}
	m.Request("", http.MethodGet, http.StatusNotFound, time.Millisecond)
	if got, want := methodLabels(t, m), []string{"GET", "OTHER"}; !slices.Equal(got, want) {
		t.Errorf("40 made-up methods and a GET: method labels = %q, want %q", got, want)
	}
}

// methodLabels returns the method labels of the request series, sorted
// and without repeats.
func methodLabels(t *testing.T, m *Metrics) []string {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != "microtask_http_request_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "method" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
