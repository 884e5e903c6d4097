package task_test

import (
	"slices"
	"strings"
	"testing"

	"microtask/internal/storage/storagetest"
	"microtask/internal/task"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestNormalizeTags(t *testing.T) {
	for _, tt := range []struct {
		in      []string
		want    []string
		invalid bool
	}{
		{in: nil, want: []string{}},
		{in: []string{" Quick", "quick", "QUICK "}, want: []string{"quick"}},
		{in: []string{"en-us", "a1", "b", "c", "d", "a1"}, want: []string{"en-us", "a1", "b", "c", "d"}},
		{in: []string{"a", "b", "c", "d", "e", "f"}, invalid: true},
		{in: []string{"two words"}, invalid: true},
		{in: []string{"-dash"}, invalid: true},
		{in: []string{"under_score"}, invalid: true},
		{in: []string{""}, invalid: true},
		{in: []string{strings.Repeat("a", task.MaxTagLen+1)}, invalid: true},
	} {
		got, err := task.NormalizeTags(tt.in)
		if tt.invalid != (err != nil) || (!tt.invalid && !slices.Equal(got, tt.want)) || (!tt.invalid && got == nil) {
			t.Errorf("NormalizeTags(%q) = %q, %v; want %q (invalid: %v)", tt.in, got, err, tt.want, tt.invalid)
		}
	}
}
