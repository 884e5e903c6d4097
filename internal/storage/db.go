// Package storage keeps every call of the MongoDB driver: connecting (to a
// MongoDB server or the embedded FerretDB), migrations, and one store per
// capability. Driver errors are translated here into the domain's errors.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"microtask/internal/page"
)

// DB is one MongoDB database on a connected client.
//
// When the server is FerretDB, DB serializes write commands in this process
// (see gate): FerretDB v1 can lose one of two concurrent updates to the same
// document, and every ledger step relies on single-document atomicity.
type DB struct {
	client *mongo.Client
	db     *mongo.Database
	gate   gate // nil on MongoDB
	owner  bool // Close disconnects the client
}

// Option changes how Open connects.
type Option func(*options.ClientOptions)

// WithCommandMonitor reports every command the driver sends to m; tests use
// it to count the queries an endpoint makes.
func WithCommandMonitor(m *event.CommandMonitor) Option {
	return func(o *options.ClientOptions) { o.SetMonitor(m) }
}

// Open connects to uri, checks that the server answers and detects FerretDB.
func Open(ctx context.Context, uri, database string, log *slog.Logger, opts ...Option) (*DB, error) {
	co := options.Client().ApplyURI(uri).
		SetAppName("microtask").
		SetServerSelectionTimeout(10 * time.Second)
	for _, o := range opts {
		o(co)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("ping database: %w", err)
	}
	ferret, err := isFerretDB(ctx, client)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("detect server: %w", err)
	}
	d := &DB{client: client, db: client.Database(database), owner: true}
	if ferret {
		d.gate = newGate()
		log.InfoContext(ctx, "database connected", "server", "ferretdb", "write_mode", "serialized in process",
			"database", database)
	} else {
		log.InfoContext(ctx, "database connected", "server", "mongodb", "write_mode", "concurrent",
			"database", database)
	}
	return d, nil
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

// Sibling returns the database called name on the same connection, sharing
// the write gate. Tests use it to give each test its own database.
func (d *DB) Sibling(name string) *DB {
	return &DB{client: d.client, db: d.client.Database(name), gate: d.gate}
}

// Name returns the database name.
func (d *DB) Name() string { return d.db.Name() }

// Serialized reports whether writes are serialized in this process, which is
// the case on FerretDB.
func (d *DB) Serialized() bool { return d.gate != nil }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.client.Ping(ctx, nil)
}

// Drop deletes the whole database. Tests use it to clean up.
func (d *DB) Drop(ctx context.Context) error {
	return d.db.Drop(ctx)
}

// Close disconnects the client if this DB opened it.
func (d *DB) Close(ctx context.Context) error {
	if !d.owner {
		return nil
	}
	return d.client.Disconnect(ctx)
}

func (d *DB) collection(name string) collection {
	return collection{c: d.db.Collection(name), gate: d.gate}
}

// gate serializes write commands in the process. It is process-wide rather
// than per document: FerretDB's SQLite backend serializes writers anyway (eight
// concurrent updaters measured the same throughput as one, see
// ../shared/notes), and one lock also covers multi-document writes without
// reasoning about keys. Per-document locks were tried: under the load
// generator's mix (make bench) throughput fell from 128 to about 95
// requests/s and read p99 rose from 150 to 250 ms, as concurrent writers
// contended in SQLite and for the CPU. A channel rather than a sync.Mutex so
// that waiting honours the context.
type gate chan struct{}

func newGate() gate { return make(gate, 1) }

func (g gate) enter(ctx context.Context) (leave func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// collection wraps a driver collection so that every write goes through the
// gate: stores cannot forget it, because they only see these methods.
type collection struct {
	c    *mongo.Collection
	gate gate
}

func (c collection) insertOne(ctx context.Context, doc any) error {
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	_, err = c.c.InsertOne(ctx, doc)
	return err
}

func (c collection) insertMany(ctx context.Context, docs []any, ordered bool) error {
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	_, err = c.c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(ordered))
	return err
}

// updateOne applies update to the first document matching filter and returns
// how many matched (0 or 1).
func (c collection) updateOne(ctx context.Context, filter, update any, upsert bool) (int64, error) {
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if c.gate != nil {
		if n, done, err := c.updateByID(ctx, filter, update, upsert); done {
			return n, err
		}
	}
	res, err := c.c.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(upsert))
	if err != nil {
		return 0, err
	}
	return res.MatchedCount + res.UpsertedCount, nil
}

// updateByID is updateOne's fast path on FerretDB for a filter that starts
// with an _id equality (see match.go): read by _id, test the rest of the
// filter in Go, write by _id. The caller holds the gate, so the document
// cannot change in between. done is false when the filter or the case needs
// the server's own evaluation.
func (c collection) updateByID(ctx context.Context, filter, update any, upsert bool) (n int64, done bool, err error) {
	id, rest, ok := splitIDFilter(filter)
	if !ok {
		return 0, false, nil
	}
	byID := bson.D{{Key: "_id", Value: id}}
	var doc bson.D
	err = c.c.FindOne(ctx, byID).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if upsert && onlyOperators(rest) {
			res, err := c.c.UpdateOne(ctx, byID, update, options.UpdateOne().SetUpsert(true))
			if err != nil {
				return 0, true, err
			}
			return res.MatchedCount + res.UpsertedCount, true, nil
		}
		return 0, !upsert, nil
	}
	if err != nil {
		return 0, true, err
	}
	hit, err := matches(doc, rest)
	switch {
	case errors.Is(err, errUnsupportedFilter):
		return 0, false, nil
	case err != nil:
		return 0, true, err
	case !hit:
		// An upsert would now try to insert a duplicate _id; let the server
		// give its own answer to that.
		return 0, !upsert, nil
	}
	res, err := c.c.UpdateOne(ctx, byID, update)
	if err != nil {
		return 0, true, err
	}
	return res.MatchedCount, true, nil
}

func (c collection) updateMany(ctx context.Context, filter, update any) (int64, error) {
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	res, err := c.c.UpdateMany(ctx, filter, update)
	if err != nil {
		return 0, err
	}
	return res.MatchedCount, nil
}

func (c collection) deleteOne(ctx context.Context, filter any) (int64, error) {
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	res, err := c.c.DeleteOne(ctx, filter)
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}

// findOne decodes the first document matching filter into out. It returns
// errNoDocument when there is none.
func (c collection) findOne(ctx context.Context, filter, out any) error {
	err := c.c.FindOne(ctx, filter).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return errNoDocument
	}
	return err
}

// count counts the documents matching filter.
func (c collection) count(ctx context.Context, filter any) (int64, error) {
	return c.c.CountDocuments(ctx, filter)
}

// sum adds up a numeric field over the documents matching filter, in one
// aggregation with a single accumulator (FerretDB computes only the first
// accumulator of a $group).
func (c collection) sum(ctx context.Context, filter bson.D, field string) (int64, error) {
	cur, err := c.c.Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: filter}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "total", Value: bson.D{{Key: "$sum", Value: "$" + field}}}}}},
	})
	if err != nil {
		return 0, err
	}
	defer cur.Close(ctx)
	var res []struct {
		Total int64 `bson:"total"`
	}
	if err := cur.All(ctx, &res); err != nil || len(res) == 0 {
		return 0, err
	}
	return res[0].Total, nil
}

// each calls fn with every document matching filter, decoded into a fresh T.
func each[T any](ctx context.Context, c collection, filter any, opts *options.FindOptionsBuilder, fn func(T) error) error {
	cur, err := c.c.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var v T
		if err := cur.Decode(&v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return cur.Err()
}

// newestFirst is the order of most lists; _id breaks ties, so that pages
// neither repeat nor skip items created in the same millisecond.
var newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}

// findAll returns the documents matching filter, each decoded as a D and
// turned into a T by conv (nil when none match).
func findAll[D, T any](ctx context.Context, c collection, filter any, opts *options.FindOptionsBuilder, conv func(D) T) ([]T, error) {
	var out []T
	err := each(ctx, c, filter, opts, func(d D) error {
		out = append(out, conv(d))
		return nil
	})
	return out, err
}

// findPage returns page p of the documents matching q in sort order, turned
// into Ts by conv, and how many documents match: one find and one count,
// which is what every list endpoint costs. An empty page is an empty slice,
// which JSON shows as [] rather than null.
func findPage[D, T any](ctx context.Context, c collection, q, sort bson.D, p page.Request, conv func(D) T) ([]T, int64, error) {
	out, err := findAll(ctx, c, q, options.Find().SetSort(sort).SetSkip(p.Skip()).SetLimit(int64(p.Limit)), conv)
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		out = []T{}
	}
	n, err := c.count(ctx, q)
	return out, n, err
}

// commitOnce applies a ledger operation's commit update to the document id.
// Its filter q leaves out documents that already record the operation, so
// when nothing matched, the document is read and done says whether it
// records it, that is, whether the commit happened before. A missing
// document has not committed.
func commitOnce[D any](ctx context.Context, c collection, id string, q, update bson.D, done func(D) bool) (bool, error) {
	n, err := c.updateOne(ctx, q, update, false)
	if err != nil || n == 1 {
		return n == 1, err
	}
	var d D
	if err := c.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		if errors.Is(err, errNoDocument) {
			return false, nil
		}
		return false, err
	}
	return done(d), nil
}

var errNoDocument = errors.New("no document")

// isDuplicate reports whether err is a unique-index violation. FerretDB
// reports one caused by an update as InternalError (code 1) rather than
// E11000, hence the message checks (verified in ../shared/notes).
func isDuplicate(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 1 &&
		(strings.Contains(ce.Message, "UNIQUE constraint failed") || strings.Contains(ce.Message, "SQLSTATE 23505"))
}
