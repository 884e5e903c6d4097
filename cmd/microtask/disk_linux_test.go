package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountSmallDisk mounts a tmpfs of size bytes on a fresh directory and
// returns it. It needs root: without, the test is skipped, unless
// MICROTASK_DISK_TESTS=1 (as in CI) makes that a failure.
func mountSmallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if os.Getenv("MICROTASK_DISK_TESTS") == "1" {
			t.Fatalf("mount a small disk (MICROTASK_DISK_TESTS=1): %v", err)
		}
		t.Skipf("cannot mount a small disk (needs root; MICROTASK_DISK_TESTS=1 makes this a failure): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file into dir until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{1}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// TestServeOnAFullDisk: when the disk under DATA_DIR fills up, writes answer
// 503 database_unavailable with Retry-After (not 500), readiness answers 503
// naming the disk, and both come back by themselves once there is room.
func TestServeOnAFullDisk(t *testing.T) {
	dataDir := mountSmallDisk(t, 32<<20)
	base, _, stop := startServer(t, map[string]string{"DATA_DIR": dataDir, "HTTP_ADDR": "127.0.0.1:0"})
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	seq := 0
	register := func() *http.Response {
		seq++
		body := fmt.Sprintf(`{"name":"Dee Disk","email":"dee%d@example.com","password":"Passw0rd!","role":"worker"}`, seq)
		resp, err := http.Post(base+"/api/auth/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	ready := func() (int, string) {
		resp, err := http.Get(base + "/api/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p struct{ Code, Detail string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Code + ": " + p.Detail
	}
	if resp := register(); resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up before the disk is full = %d", resp.StatusCode)
	}

	filler := fill(t, dataDir)
	var refused *http.Response
	for range 50 { // a write may still find room in pages SQLite already has
		if resp := register(); resp.StatusCode != http.StatusCreated {
			refused = resp
			break
		}
	}
	if refused == nil {
		t.Fatal("50 sign-ups succeeded on a full disk")
	}
	var p struct{ Code string }
	_ = json.NewDecoder(refused.Body).Decode(&p)
	if refused.StatusCode != http.StatusServiceUnavailable || p.Code != "database_unavailable" || refused.Header.Get("Retry-After") == "" {
		t.Errorf("sign-up on a full disk = %d %q (Retry-After %q), want 503 database_unavailable with Retry-After",
			refused.StatusCode, p.Code, refused.Header.Get("Retry-After"))
	}
	if status, detail := ready(); status != http.StatusServiceUnavailable || !strings.Contains(detail, "disk") {
		t.Errorf("readiness on a full disk = %d %q, want 503 naming the disk", status, detail)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, detail := ready()
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness still %d %q 10s after the disk has room again", status, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp := register(); resp.StatusCode != http.StatusCreated {
		t.Errorf("sign-up once the disk has room = %d, want 201", resp.StatusCode)
	}
}
