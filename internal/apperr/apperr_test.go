package apperr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestIsMatchesByCode(t *testing.T) {
	errFull := New(Conflict, "task_full", "the task has no open slots")
	wrapped := fmt.Errorf("submit: %w", errFull.WithMessage("task %s is full", "t1"))
	if !errors.Is(wrapped, errFull) {
		t.Errorf("errors.Is(wrapped copy, declared) = false, want true")
	}
	if errors.Is(wrapped, New(Conflict, "other", "x")) {
		t.Errorf("errors.Is matched another code")
	}
	if KindOf(wrapped) != Conflict || KindOf(errors.New("plain")) != Internal {
		t.Errorf("KindOf() wrong")
	}
}

// TestEveryCodeIsDocumented keeps docs/problems.md complete: every code
// declared with apperr.New anywhere in the code must have a row there.
func TestEveryCodeIsDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "problems.md"))
	if err != nil {
		t.Fatal(err)
	}
	declared := regexp.MustCompile(`apperr\.New\(\s*apperr\.\w+,\s*"([a-z0-9_]+)"`)
	codes := map[string]string{"invalid_fields": "internal/apperr/apperr.go"}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range declared.FindAllSubmatch(b, -1) {
			codes[string(m[1])] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) < 10 {
		t.Fatalf("found only %d codes; is the pattern still right?", len(codes))
	}
	for code, path := range codes {
		if !strings.Contains(string(doc), "| `"+code+"` |") {
			t.Errorf("code %q (declared in %s) has no row in docs/problems.md", code, path)
		}
	}
}
