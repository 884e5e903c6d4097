package docdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", the one FerretDB's SQLite backend uses
)

// SocketName is the file name of the embedded database's Unix socket inside
// its directory.
const SocketName = "ferretdb.sock"

// maxSocketPath is the longest socket path every Unix accepts (sun_path holds
// 104 bytes on macOS and the BSDs, 108 on Linux, terminating NUL included).
const maxSocketPath = 103

// Embedded is a FerretDB server running inside this process, storing its data
// with SQLite under a directory. It is the zero-setup database for
// development, tests and small single-instance installations.
//
// It listens on a Unix socket, never on a TCP port: FerretDB has no
// authentication of its own, and a loopback port would let any local user
// read password hashes or make themselves admin. The socket is
// DIR/ferretdb.sock with mode 0600 in a 0700 directory, so only this
// process's user can connect (a DIR too long for a socket path gets a
// private temporary directory for the socket instead).
type Embedded struct {
	dir    string
	socket string
	stop   context.CancelFunc
	done   chan error
	owner  string // this server's name in the writer lease of its databases

	indexed sync.Map // "database\x00collection" whose _id expression index exists
}

// StartEmbedded starts FerretDB with its SQLite files in dir (created if
// missing). It fails if another process is serving the same directory. Stop
// it with Stop after every client has disconnected: FerretDB waits up to a
// few seconds for open connections otherwise.
func StartEmbedded(dir string, log *slog.Logger) (*Embedded, error) {
	abs, err := privateDir(dir)
	if err != nil {
		return nil, err
	}
	socket, err := socketPath(abs)
	if err != nil {
		return nil, err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{Unix: socket},
		Handler:  "sqlite",
		// FerretDB wants a URI naming an existing directory, with a trailing
		// slash. It already sets WAL mode and a busy timeout.
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/",
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded database: %w", err)
	}
	// The listener exists once New returns; the directory already keeps
	// other users out, the mode says so twice.
	if err := os.Chmod(socket, 0o600); err != nil {
		return nil, fmt.Errorf("embedded database socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{dir: abs, socket: socket, stop: cancel, done: make(chan error, 1), owner: newOwner()}
	go func() { e.done <- f.Run(ctx) }()
	return e, nil
}

// socketPath returns where the socket of the database in dir goes, after
// making sure no other process serves dir and removing a socket file a
// killed process left behind.
func socketPath(dir string) (string, error) {
	path := filepath.Join(dir, SocketName)
	if len(path) > maxSocketPath {
		tmp, err := os.MkdirTemp("", "microtask-db-") // mode 0700
		if err != nil {
			return "", fmt.Errorf("embedded database socket: %w", err)
		}
		return filepath.Join(tmp, SocketName), nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return "", fmt.Errorf("embedded database: another process is serving %s; the embedded database allows one process at a time", dir)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("embedded database socket: %w", err)
	}
	return path, nil
}

// URI is the mongodb:// address of the embedded server's socket.
func (e *Embedded) URI() string {
	return "mongodb://" + url.PathEscape(e.socket) + "/"
}

// Socket is the path of the Unix socket the embedded server listens on.
func (e *Embedded) Socket() string { return e.socket }

// Connect opens database on the embedded server (see Open). Every collection
// the returned DB, or a Sibling of it, writes to gets the index that lets
// FerretDB find documents by _id without reading the whole table. Every
// read and write goes to the server, as to MongoDB: this is the database
// of the tests that need a server's evaluation of queries and updates (and
// of converting a data directory from before the embedded store).
func (e *Embedded) Connect(ctx context.Context, database string, log *slog.Logger, opts ...Option) (*DB, error) {
	d, s, err := open(ctx, e.URI(), database, log, opts)
	if err != nil {
		return nil, err
	}
	d.embedded = e
	// No other process can have reached this server before it started: a
	// lease found is a killed process's, or this server's own.
	if err := d.takeWriterLease(ctx, e.owner, s.leaseTTL, true, log); err != nil {
		_ = d.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return d, nil
}

// Stop shuts the server down and waits for it.
func (e *Embedded) Stop() {
	e.stop()
	<-e.done
	if filepath.Dir(e.socket) != e.dir {
		_ = os.RemoveAll(filepath.Dir(e.socket))
	}
}

// IDIndexName is the name of the SQLite index that serves FerretDB's lookups
// by _id, on every table of the embedded database.
const IDIndexName = "microtask_id"

// indexIDs makes sure the table behind collection has an index on the
// expression FerretDB's SQLite backend uses for _id lookups.
//
// FerretDB v1.24 indexes _id as _ferretdb_sjson->"_id" but queries, updates
// and deletes by _ferretdb_sjson->'$._id'; SQLite only uses an index whose
// expression matches, so without this every command by _id reads the whole
// table (EXPLAIN QUERY PLAN says SCAN). FerretDB 1.24.2 has the same mismatch.
// The index is unique, as _id is.
func (e *Embedded) indexIDs(ctx context.Context, database, collection string) error {
	key := database + "\x00" + collection
	if _, done := e.indexed.Load(key); done {
		return nil
	}
	file := filepath.Join(e.dir, database+".sqlite")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil // nothing written yet
	}
	// A connection of our own, closed at once: FerretDB removes the file when
	// the database is dropped.
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var table string
	err = db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, collection).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // not created yet
	}
	if err != nil {
		return fmt.Errorf("find table of %s.%s: %w", database, collection, err)
	}
	q := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+"_"+IDIndexName, table)
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("index _id of %s.%s: %w", database, collection, err)
	}
	e.indexed.Store(key, struct{}{})
	return nil
}

// forget drops what e knows about database, which is being dropped.
func (e *Embedded) forget(database string) {
	e.indexed.Range(func(k, _ any) bool {
		if db, _, _ := strings.Cut(k.(string), "\x00"); db == database {
			e.indexed.Delete(k)
		}
		return true
	})
}
