package docdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// OpenEmbedded opens the embedded database called database in dir (created
// if missing, 0700): the file dir/<database>.db, read whole into memory,
// which then answers every read while every write is made durable in the
// file (see memDB). The directory is this process's alone while it is open:
// a second process is refused at once. A directory written by FerretDB, as
// versions before this engine kept it, is converted on first open (see
// convertFerretDB).
func OpenEmbedded(ctx context.Context, dir, database string, log *slog.Logger, opts ...Option) (*DB, error) {
	abs, err := privateDir(dir)
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(abs)
	if err != nil {
		return nil, err
	}
	s := settings{client: options.Client()} // client options go unused
	for _, o := range opts {
		o(&s)
	}
	start := time.Now()
	if err := convertFerretDB(ctx, abs, database, log); err != nil {
		unlock()
		return nil, err
	}
	d, err := openMem(ctx, abs, database, log, s)
	if err != nil {
		unlock()
		return nil, err
	}
	d.unlock = unlock
	cols, docs, size := d.mem.stats()
	log.InfoContext(ctx, "database opened", "server", "embedded", "file", d.mem.file.path,
		"write_mode", "group commit", "collections", cols, "documents", docs, "bson_bytes", size,
		"took", time.Since(start).Round(time.Millisecond).String())
	return d, nil
}

// privateDir makes dir, if missing, a directory only this process's user
// can enter (0700), and returns its absolute path.
func privateDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o700)
	}
	if err == nil {
		err = os.Chmod(abs, 0o700)
	}
	if err != nil {
		return "", fmt.Errorf("embedded database dir: %w", err)
	}
	return abs, nil
}

// openMem opens the embedded database file of database in dir.
func openMem(ctx context.Context, dir, database string, log *slog.Logger, s settings) (*DB, error) {
	h := &health{}
	mem, err := openMemDB(ctx, filepath.Join(dir, database+fileExt), database, h, s.observer, log)
	if err != nil {
		return nil, err
	}
	return &DB{mem: mem, dir: dir, health: h, sole: true, log: log}, nil
}

// removeFile deletes an embedded database file and its WAL.
func removeFile(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
