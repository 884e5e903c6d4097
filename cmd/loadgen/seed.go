package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"microtask/internal/docdb"
	"microtask/internal/storage"
)

// seedInert opens the embedded database of dataDir in this process, as the
// server would, migrates it and seeds n inert documents into each main
// collection (storage.SeedInert). The server is started afterwards: the
// embedded database allows one process at a time.
func seedInert(dataDir string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	db, err := docdb.OpenEmbedded(ctx, filepath.Join(dataDir, "db"), "microtask", quiet)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if _, err := storage.Migrate(ctx, db, quiet); err != nil {
		return err
	}
	return storage.SeedInert(ctx, db, n)
}

// memory reports the server's resident and peak resident memory, from
// /proc on Linux.
func (s *server) memory() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return "unknown"
	}
	var rss, peak string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "VmRSS":
			rss = strings.TrimSpace(v)
		case "VmHWM":
			peak = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("RSS %s (peak %s)", rss, peak)
}
