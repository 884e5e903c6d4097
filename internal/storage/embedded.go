package storage

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is a FerretDB server running inside this process on a loopback
// port, storing its data with SQLite under a directory. It is the zero-setup
// database for development, tests and small single-instance installations.
type Embedded struct {
	uri  string
	stop context.CancelFunc
	done chan error
}

// StartEmbedded starts FerretDB with its SQLite files in dir (created if
// missing). Stop it with Stop after every client has disconnected: FerretDB
// waits up to a few seconds for open connections otherwise.
func StartEmbedded(dir string, log *slog.Logger) (*Embedded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded database dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded database dir: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:  "sqlite",
		// FerretDB wants a URI naming an existing directory, with a trailing
		// slash. It already sets WAL mode and a busy timeout.
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/",
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded database: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{stop: cancel, done: make(chan error, 1)}
	go func() { e.done <- f.Run(ctx) }()
	e.uri = f.MongoDBURI() // blocks until the listener is up
	return e, nil
}

// URI is the mongodb:// address the embedded server listens on.
func (e *Embedded) URI() string { return e.uri }

// Stop shuts the server down and waits for it.
func (e *Embedded) Stop() {
	e.stop()
	<-e.done
}
