package apperr

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFields(t *testing.T) {
	var f Fields
	if err := f.Err(); err != nil {
		t.Fatalf("Err() of no fields = %v, want nil", err)
	}
	f.Text("a", "", 3)
	f.Text("b", "ééé", 3) // characters, not bytes
	f.Text("c", "abcd", 3)
	f.Count("d", 0, 10)
	f.Count("e", -1, 10)
	f.Count("f", 11, 10)
	f.Count("g", 10, 10)
	f.URL("u1", "", 30)
	f.URL("u2", "HTTPS://example.com/a", 30)
	f.URL("u3", "ftp://example.com/a", 30)
	f.URL("u4", "https:///a", 30)
	f.URL("u5", "https://example.com/"+strings.Repeat("a", 11), 30)
	f.AddFrom(InvalidFields(FieldError{Field: "h", Message: "is wrong"}))
	f.AddFrom(nil)
	f.Add("i", "must be one of: %s", strings.Join([]string{"x", "y"}, ", "))
	want := []FieldError{
		{"a", "is required"}, {"c", "must be at most 3 characters"}, {"d", "is required"}, {"e", "must be at least 1"},
		{"f", "must be at most 10"}, {"u3", "must be an http or https URL"}, {"u4", "must be an http or https URL"},
		{"u5", "must be at most 30 characters"}, {"h", "is wrong"}, {"i", "must be one of: x, y"},
	}
	err := f.Err()
	if KindOf(err) != Invalid {
		t.Fatalf("Err() = %v, want an Invalid error", err)
	}
	if diff := cmp.Diff(want, err.(*Error).Fields); diff != "" {
		t.Errorf("Err() fields (-want +got):\n%s", diff)
	}
}
