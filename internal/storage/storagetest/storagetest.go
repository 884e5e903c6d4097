// Package storagetest gives tests a real database: a fresh migrated database
// per test, on a server started once per test binary. The environment says
// which server, and how the databases work:
//
//   - by default, the embedded database, as it runs in production
//     (docdb.OpenEmbedded): every read answered from memory, every write
//     committed to its file;
//   - MICROTASK_TEST_DB=per-document: an embedded FerretDB, with writes
//     serialized per document and every read sent to the server, as MongoDB
//     behaves (docdb.WithPerDocumentLocks): what MongoDB runs concurrently
//     runs concurrently here too;
//   - MONGODB_TEST_URI set (mongodb://...): that MongoDB server, a replica
//     set or a standalone one.
package storagetest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"microtask/internal/docdb"
	"microtask/internal/storage"
)

// The modes of the environment.
const (
	ModeEmbedded    = "embedded"
	ModePerDocument = "per-document"
	ModeMongoDB     = "mongodb"
)

// Mode returns the mode the environment chooses.
func Mode() string {
	switch {
	case os.Getenv("MONGODB_TEST_URI") != "":
		return ModeMongoDB
	case os.Getenv("MICROTASK_TEST_DB") == ModePerDocument:
		return ModePerDocument
	}
	return ModeEmbedded
}

var (
	once     sync.Once
	root     *docdb.DB // databases as the mode says
	dir      string
	startErr error
	seq      atomic.Int64

	// The server of the tests that need one (FerretDB, or MongoDB), started
	// when a test first asks for it in the default mode.
	serverOnce sync.Once
	server     *docdb.Embedded // nil on MongoDB
	uri        string
	plain      *docdb.DB // databases that send every read to the server, as on MongoDB
	serverErr  error
)

var quiet = slog.New(slog.DiscardHandler)

var monitor = docdb.WithCommandMonitor(&event.CommandMonitor{
	Started: func(_ context.Context, e *event.CommandStartedEvent) {
		commands.mu.Lock()
		defer commands.mu.Unlock()
		if l := commands.logs[e.DatabaseName]; l != nil {
			l.add(e.CommandName)
		}
	},
})

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch Mode() {
	case ModeMongoDB, ModePerDocument:
		startServer()
		root, startErr = plain, serverErr
	default:
		if dir, startErr = os.MkdirTemp("", "microtask-test-db-"); startErr != nil {
			return
		}
		root, startErr = docdb.OpenEmbedded(ctx, dir, "unused", quiet)
	}
}

// startServer starts the server of the tests that need one: the MongoDB of
// MONGODB_TEST_URI, or an embedded FerretDB.
func startServer() {
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if Mode() == ModeMongoDB {
			uri = os.Getenv("MONGODB_TEST_URI")
			plain, serverErr = docdb.Open(ctx, uri, "unused", quiet, monitor)
			return
		}
		var sdir string
		if sdir, serverErr = os.MkdirTemp("", "microtask-test-server-"); serverErr != nil {
			return
		}
		if server, serverErr = docdb.StartEmbedded(sdir, quiet); serverErr != nil {
			return
		}
		uri = server.URI()
		opts := []docdb.Option{monitor}
		if Mode() == ModePerDocument {
			opts = append(opts, docdb.WithPerDocumentLocks())
		}
		plain, serverErr = server.Connect(ctx, "unused", quiet, opts...)
		serverDir = sdir
	})
}

var serverDir string

// commands routes the driver's command events to the CommandLog of the test
// that owns the database.
var commands = struct {
	mu   sync.Mutex
	logs map[string]*CommandLog
}{logs: map[string]*CommandLog{}}

// CommandLog counts the commands sent to one test database, by name
// ("find", "aggregate", "update"...).
type CommandLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *CommandLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[name]++
}

// Reset forgets the commands counted so far.
func (l *CommandLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts = map[string]int{}
}

// Counts returns the commands counted since the last Reset.
func (l *CommandLog) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// Commands starts counting the commands sent to db, a database from NewDB.
func Commands(t testing.TB, db *docdb.DB) *CommandLog {
	t.Helper()
	l := &CommandLog{counts: map[string]int{}}
	commands.mu.Lock()
	commands.logs[db.Name()] = l
	commands.mu.Unlock()
	t.Cleanup(func() {
		commands.mu.Lock()
		delete(commands.logs, db.Name())
		commands.mu.Unlock()
	})
	return l
}

// NewDB returns a migrated database of its own for this test, on the shared
// server, working as the mode says, and drops it when the test ends.
func NewDB(t testing.TB) *docdb.DB {
	t.Helper()
	return newDB(t, func() *docdb.DB { return root })
}

// NewServerReadsDB is NewDB for a database that sends every read to the
// server, as on MongoDB, whatever the mode: for tests that count the
// commands an operation sends.
func NewServerReadsDB(t testing.TB) *docdb.DB {
	t.Helper()
	startServer()
	if serverErr != nil {
		t.Fatalf("start database server: %v", serverErr)
	}
	return newDB(t, func() *docdb.DB { return plain })
}

func newDB(t testing.TB, parent func() *docdb.DB) *docdb.DB {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("start test database: %v", startErr)
	}
	db := parent().Sibling(fmt.Sprintf("test_%d_%d", os.Getpid(), seq.Add(1)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := storage.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return db
}

// URI returns the server's address, starting it if needed, for tests that
// connect on their own.
func URI(t testing.TB) string {
	t.Helper()
	startServer()
	if serverErr != nil {
		t.Fatalf("start database server: %v", serverErr)
	}
	return uri
}

// Main runs a package's tests, then the cleanups, then stops the embedded
// server and removes its files. Use it from TestMain:
//
//	func TestMain(m *testing.M) { storagetest.Main(m) }
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if root != nil && root != plain {
		_ = root.Close(context.Background())
	}
	if plain != nil {
		_ = plain.Close(context.Background())
	}
	if server != nil {
		server.Stop()
	}
	for _, d := range []string{dir, serverDir} {
		if d != "" {
			_ = os.RemoveAll(d)
		}
	}
	os.Exit(code)
}
