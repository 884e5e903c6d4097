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

// DB is one MongoDB database on a connected client.
//
// It works in one of three ways, decided when it connects:
//
//   - on MongoDB, every read and write is a command to the server, which
//     answers with its indexes and keeps each document's updates atomic;
//   - on FerretDB reached by a URI, likewise, but write commands pass a
//     process-wide gate (see gate), because FerretDB v1 can lose one of two
//     concurrent updates to the same document;
//   - on the embedded FerretDB this process runs (Embedded.Connect), writes
//     pass the gate too, and reads are answered from an in-memory copy of
//     each collection (package mirror), because FerretDB reads the whole
//     collection for any query but a lookup by _id, while this process is
//     the only writer of its database.
type DB struct {
	client   *mongo.Client
	db       *mongo.Database
	gate     gate      // nil on MongoDB and with docs
	docs     *docLocks // per-document locks instead of the gate (WithPerDocumentLocks)
	copies   *copies   // nil unless reads are answered from memory
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
	serverReads bool
	perDocument bool
	gateWaited  func(time.Duration)
	leaseTTL    time.Duration // WithWriterLease; 0: DefaultWriterLeaseTTL
}

// WithCommandMonitor reports every command the driver sends to m; tests use
// it to count the queries an endpoint makes.
func WithCommandMonitor(m *event.CommandMonitor) Option {
	return func(s *settings) { s.client.SetMonitor(m) }
}

// WithWriteGateObserver reports how long each write waited for the write
// gate (on FerretDB; there is none on MongoDB), for metrics.
func WithWriteGateObserver(f func(time.Duration)) Option {
	return func(s *settings) { s.gateWaited = f }
}

// WithServerReads sends every read to the database server, as on MongoDB,
// even on the embedded database: tests use it to count an endpoint's
// commands as MongoDB would receive them.
func WithServerReads() Option {
	return func(s *settings) { s.serverReads = true }
}

// WithPerDocumentLocks makes a DB on FerretDB behave as one on MongoDB, for
// tests: writes are serialized per document instead of per process (see
// docLocks), and every read goes to the server (WithServerReads), so that
// what MongoDB runs concurrently runs concurrently here too.
func WithPerDocumentLocks() Option {
	return func(s *settings) { s.perDocument, s.serverReads = true, true }
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
		d.sole = !s.serverReads
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
	d := &DB{client: client, db: client.Database(database), health: &health{}, owner: true}
	switch {
	case ferret && s.perDocument:
		d.docs = newDocLocks()
		log.InfoContext(ctx, "database connected", "server", "ferretdb", "write_mode", "serialized per document",
			"database", database)
	case ferret:
		d.gate = newGate(s.gateWaited)
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
	s := &DB{client: d.client, db: d.client.Database(name), gate: d.gate, docs: d.docs, embedded: d.embedded, health: d.health,
		sole: d.sole}
	if d.copies != nil {
		s.copies = d.copies.registry.of(name)
	}
	return s
}

// Name returns the database name.
func (d *DB) Name() string { return d.db.Name() }

// Serialized reports whether writes are serialized in this process, which is
// the case on FerretDB.
func (d *DB) Serialized() bool { return d.gate != nil || d.docs != nil }

// SoleWriter reports whether this process is the only writer of the
// database, so that what it caches stays right until it changes it itself.
// It is decided once, where the database is opened: true where this process
// holds the writer lease (the embedded database, or a FerretDB reached by
// URI), false on MongoDB, where other instances may write, and in the test
// modes that behave as MongoDB does (WithServerReads, WithPerDocumentLocks).
func (d *DB) SoleWriter() bool { return d.sole }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.client.Ping(ctx, nil)
}

// Drop deletes the whole database. Tests use it to clean up.
func (d *DB) Drop(ctx context.Context) error {
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if d.copies != nil {
		d.copies.registry.forget(d.db.Name())
	}
	if d.embedded != nil {
		d.embedded.forget(d.db.Name())
	}
	return d.db.Drop(ctx)
}

// Close gives up the writer lease and disconnects the client, if this DB
// opened them.
func (d *DB) Close(ctx context.Context) error {
	if !d.owner {
		return nil
	}
	d.releaseWriterLease(ctx)
	return d.client.Disconnect(ctx)
}

func (d *DB) Collection(name string) Collection {
	c := Collection{c: d.db.Collection(name), gate: d.gate, docs: d.docs, embedded: d.embedded, health: d.health}
	if d.copies != nil {
		c.copy = d.copies.of(name)
	}
	return c
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
	ch     chan struct{}
	waited func(time.Duration) // WithWriteGateObserver; nil: not measured
	since  atomic.Int64        // when the holder entered, in Unix nanoseconds; 0 when free
}

func newGate(waited func(time.Duration)) gate {
	return &writeGate{ch: make(chan struct{}, 1), waited: waited}
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
		g.since.Store(time.Now().UnixNano())
		if g.waited != nil {
			g.waited(time.Since(start))
		}
		return func() { g.since.Store(0); <-g.ch }, nil
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
	if mongo.IsDuplicateKeyError(err) {
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
