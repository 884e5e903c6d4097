package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakeBenchStepsHaveTheirBenchmarks: each Go benchmark step of the
// Makefile's bench target, which runs before the load generator, names
// one benchmark ('^BenchmarkX$') in a package whose tests declare it. A
// benchmark that moves to another package (the engine's moved from storage
// to docdb) would otherwise leave a step that runs nothing and says so
// nowhere.
func TestMakeBenchStepsHaveTheirBenchmarks(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, target, ok := strings.Cut(string(makefile), "\nbench:")
	if !ok {
		t.Fatal("the Makefile has no bench target")
	}
	if end := strings.Index(target, "\n\n"); end >= 0 {
		target = target[:end]
	}
	step := regexp.MustCompile(`-bench '\^(Benchmark\w+)\$\$'.*\s(\./internal/\S+)`)
	steps := 0
	for _, line := range strings.Split(target, "\n") {
		if !strings.Contains(line, "-bench") {
			continue
		}
		steps++
		m := step.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("bench step %q names no single benchmark ('^BenchmarkX$$') in one ./internal package", strings.TrimSpace(line))
			continue
		}
		name, dir := m[1], filepath.Join("../..", m[2])
		if !declares(t, dir, name) {
			t.Errorf("bench step runs %s in %s, whose tests do not declare it", name, m[2])
		}
	}
	if steps == 0 {
		t.Error("the bench target runs no Go benchmark")
	}
}

// declares reports whether a _test.go file of dir declares func name.
func declares(t *testing.T, dir, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "\nfunc "+name+"(b *testing.B)") {
			return true
		}
	}
	return false
}
