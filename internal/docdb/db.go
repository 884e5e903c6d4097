// Package docdb is the document database under Microtask's stores: a small
// engine over the official MongoDB driver that connects to MongoDB, to a
// FerretDB, or to the embedded database this process runs; serializes writes
// where the server needs it (the write gate, per-document locks) and holds
// the writer lease there; answers reads from an in-memory copy where this
// process is the only writer; bounds every write in size and time and tells
// readiness what it saw; and runs the migrations. It knows no domain: the
// stores (package storage) use its one collection type, Collection, and
// translate its errors into the domain's.
package docdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// DB is one database. It works in one of three ways, decided where it is
// opened:
//
//   - on MongoDB (Open), every read and write is a command to the server,
//     which answers with its indexes and keeps each document's updates
//     atomic;
//   - on FerretDB (Open on its URI, or Embedded.Connect in the tests),
//     likewise, but write commands pass a process-wide gate (see gate), or
//     per-document locks, because FerretDB v1 can lose one of two
//     concurrent updates to the same document;
//   - on the embedded database (OpenEmbedded), every read is answered from
//     memory and every write committed to one file this process alone
//     opens (see memDB).
type DB struct {
	client   *mongo.Client
	db       *mongo.Database
	gate     gate      // nil on MongoDB and with docs
	docs     *docLocks // per-document locks instead of the gate (WithPerDocumentLocks)
	mem      *memDB    // the embedded database instead of a server: OpenEmbedded
	dir      string    // where the embedded database's files are
	unlock   func()    // gives up the embedded directory (Close)
	log      *slog.Logger
	embedded *Embedded // the server this process runs, if it does
	health   *health   // what writes said of the server lately, for Ready
	lease    *writerLease
	sole     bool // SoleWriter
	owner    bool // Close disconnects the client
}

// Option changes how Open connects.
type Option func(*settings)

type settings struct {
	client      *options.ClientOptions
	perDocument bool
	observer    Observer
	leaseTTL    time.Duration // WithWriterLease; 0: DefaultWriterLeaseTTL
}

// WithCommandMonitor reports every command the driver sends to m; tests use
// it to count the queries an endpoint makes. The embedded database sends
// none.
func WithCommandMonitor(m *event.CommandMonitor) Option {
	return func(s *settings) { s.client.SetMonitor(m) }
}

// Observer learns how the write path performs, for metrics.
type Observer interface {
	// WriteGateWaited is how long a write waited for the write gate (on the
	// embedded database and FerretDB; there is none on MongoDB).
	WriteGateWaited(time.Duration)
	// WriteGateHeld is how long a write held it.
	WriteGateHeld(time.Duration)
	// Committed is a batch of the embedded database's writes made durable
	// (err nil) or not, with how many documents it wrote and how long it
	// took.
	Committed(docs int, err error, d time.Duration)
}

type noObserver struct{}

func (noObserver) WriteGateWaited(time.Duration)       {}
func (noObserver) WriteGateHeld(time.Duration)         {}
func (noObserver) Committed(int, error, time.Duration) {}

// WithObserver reports how the write path performs to o.
func WithObserver(o Observer) Option {
	return func(s *settings) { s.observer = o }
}

// WithPerDocumentLocks makes a DB on FerretDB behave as one on MongoDB, for
// tests: writes are serialized per document instead of per process (see
// docLocks), so that what MongoDB runs concurrently runs concurrently here
// too.
func WithPerDocumentLocks() Option {
	return func(s *settings) { s.perDocument = true }
}

// Open connects to uri, checks that the server answers and detects FerretDB.
// On FerretDB, whose writes this process serializes, it takes the database's
// writer lease first, and fails if another process holds it and is alive
// (see takeWriterLease).
func Open(ctx context.Context, uri, database string, log *slog.Logger, opts ...Option) (*DB, error) {
	d, s, err := open(ctx, uri, database, log, opts)
	if err != nil {
		return nil, err
	}
	if d.Serialized() {
		if err := d.takeWriterLease(ctx, newOwner(), s.leaseTTL, false, log); err != nil {
			_ = d.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		d.sole = !s.perDocument
	}
	return d, nil
}

func open(ctx context.Context, uri, database string, log *slog.Logger, opts []Option) (*DB, settings, error) {
	s := settings{client: options.Client().ApplyURI(uri).
		SetAppName("microtask").
		SetServerSelectionTimeout(10 * time.Second)}
	for _, o := range opts {
		o(&s)
	}
	client, err := mongo.Connect(s.client)
	if err != nil {
		return nil, s, fmt.Errorf("connect to database: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, s, fmt.Errorf("ping database: %w", err)
	}
	ferret, err := isFerretDB(ctx, client)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, s, fmt.Errorf("detect server: %w", err)
	}
	d := &DB{client: client, db: client.Database(database), health: &health{}, owner: true, log: log}
	switch {
	case ferret && s.perDocument:
		d.docs = newDocLocks()
		log.InfoContext(ctx, "database connected", "server", "ferretdb", "write_mode", "serialized per document",
			"database", database)
	case ferret:
		d.gate = newGate(s.observer)
		log.InfoContext(ctx, "database connected", "server", "ferretdb", "write_mode", "serialized in process",
			"database", database)
	default:
		log.InfoContext(ctx, "database connected", "server", "mongodb", "write_mode", "concurrent",
			"database", database)
	}
	return d, s, nil
}

// isFerretDB reports whether the server is FerretDB: its buildInfo carries a
// ferretdbVersion key (whose value is "unknown" in embedded builds).
func isFerretDB(ctx context.Context, c *mongo.Client) (bool, error) {
	var info bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, err
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}

// Sibling returns the database called name on the same connection, working
// the same way and sharing the write gate. Tests use it to give each test its
// own database.
func (d *DB) Sibling(name string) *DB {
	if d.mem != nil {
		s, err := openMem(context.Background(), d.dir, name, d.log, settings{observer: d.mem.observer})
		if err != nil {
			panic(fmt.Sprintf("open sibling %s: %v", name, err)) // tests only, on a directory just opened
		}
		return s
	}
	return &DB{client: d.client, db: d.client.Database(name), gate: d.gate, docs: d.docs, embedded: d.embedded, health: d.health,
		sole: d.sole, log: d.log}
}

// Name returns the database name.
func (d *DB) Name() string {
	if d.mem != nil {
		return d.mem.name
	}
	return d.db.Name()
}

// Serialized reports whether writes are serialized in this process, which is
// the case on FerretDB.
func (d *DB) Serialized() bool { return d.gate != nil || d.docs != nil }

// SoleWriter reports whether this process is the only writer of the
// database, so that what it caches stays right until it changes it itself.
// It is decided once, where the database is opened: true where this process
// holds the embedded database, or the writer lease of a FerretDB reached by
// URI; false on MongoDB, where other instances may write, and on the
// embedded FerretDB of the tests, which stands in for MongoDB.
func (d *DB) SoleWriter() bool { return d.sole }

// Deferred returns a context whose writes to the embedded database answer
// as soon as they are staged, rather than once they are on disk, and a
// flush that waits until all of them are, or says which failed. The writes
// still reach the disk in their order (batches commit in order), so a crash
// keeps a prefix of them, as when each is waited for; what it saves is a
// wait for the disk between one write and the next, for runs of dependent
// steps such as an operation's. After a failed commit the copy goes back to
// the file, and a run that had a write in it may not write on: its next
// write, and its flush, answer ErrUnavailable. Make no call outside the
// database between a write and the flush that it must precede. On a server
// the context is returned as it is: every write there answers once done.
func (d *DB) Deferred(ctx context.Context) (context.Context, func() error) {
	if d.mem == nil {
		return ctx, func() error { return nil }
	}
	leave := d.mem.enterGate()
	ds := &deferred{db: d.mem, epoch: d.mem.epoch}
	leave()
	return context.WithValue(ctx, deferredKey{}, ds), ds.flush
}

// Drop deletes the whole database. Tests use it to clean up.
func (d *DB) Drop(ctx context.Context) error {
	if d.mem != nil {
		if err := d.mem.close(); err != nil {
			return err
		}
		return removeFile(d.mem.file.path)
	}
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if d.embedded != nil {
		d.embedded.forget(d.db.Name())
	}
	return d.db.Drop(ctx)
}

// Close gives up the writer lease and disconnects the client, or closes the
// embedded database's file and directory, if this DB opened them.
func (d *DB) Close(ctx context.Context) error {
	if d.mem != nil {
		err := d.mem.close()
		if d.unlock != nil {
			d.unlock()
		}
		return err
	}
	if !d.owner {
		return nil
	}
	d.releaseWriterLease(ctx)
	return d.client.Disconnect(ctx)
}

// Collection returns the collection called name.
func (d *DB) Collection(name string) Collection {
	if d.mem != nil {
		return Collection{name: name, mem: d.mem}
	}
	return Collection{name: name, c: d.db.Collection(name), gate: d.gate, docs: d.docs, embedded: d.embedded, health: d.health}
}

// gate serializes write commands in the process. It is process-wide rather
// than per document: FerretDB's SQLite backend serializes writers anyway
// (eight concurrent updaters measured the same throughput as one), and one
// lock also covers multi-document writes without reasoning about keys.
// Per-document locks were tried: under the load generator's mix (make
// bench) throughput fell from 128 to about 95 requests/s and read p99 rose
// from 150 to 250 ms, as concurrent writers contended in SQLite and for the
// CPU. A channel rather than a sync.Mutex so that waiting honours the
// context.
type gate = *writeGate

type writeGate struct {
	ch    chan struct{}
	obs   Observer
	since atomic.Int64 // when the holder entered, in Unix nanoseconds; 0 when free
}

func newGate(obs Observer) gate {
	if obs == nil {
		obs = noObserver{}
	}
	return &writeGate{ch: make(chan struct{}, 1), obs: obs}
}

// enter waits for the gate until ctx ends or gateWait has passed, whichever
// comes first; past gateWait it answers ErrUnavailable, as the database is
// then not taking writes in useful time.
func (g *writeGate) enter(ctx context.Context) (leave func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	start := time.Now()
	timer := time.NewTimer(gateWait)
	defer timer.Stop()
	select {
	case g.ch <- struct{}{}:
		entered := time.Now()
		g.since.Store(entered.UnixNano())
		g.obs.WriteGateWaited(entered.Sub(start))
		return func() {
			g.obs.WriteGateHeld(time.Since(entered))
			g.since.Store(0)
			<-g.ch
		}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, &unavailable{reason: fmt.Sprintf("a write waited %s for the write gate, held for %s",
			gateWait, g.heldFor().Round(time.Second))}
	}
}

// heldFor is how long the current holder has held the gate (0 when free).
func (g *writeGate) heldFor() time.Duration {
	if g == nil {
		return 0
	}
	since := g.since.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

var ErrNoDocument = errors.New("no document")

// IsDuplicate reports whether err is a unique-index violation. FerretDB
// reports one caused by an update as InternalError (code 1) rather than
// E11000, hence the message checks (verified against FerretDB v1.24).
func IsDuplicate(err error) bool {
	var de *DuplicateKeyError
	if errors.As(err, &de) || mongo.IsDuplicateKeyError(err) {
		return true
	}
	uniqueViolation := func(code int, msg string) bool {
		return code == 1 && (strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505"))
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) && uniqueViolation(int(ce.Code), ce.Message) {
		return true
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			if uniqueViolation(e.Code, e.Message) {
				return true
			}
		}
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		for _, e := range bwe.WriteErrors {
			if uniqueViolation(e.Code, e.Message) {
				return true
			}
		}
	}
	return false
}
