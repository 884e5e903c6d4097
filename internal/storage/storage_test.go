package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"microtask/internal/ledger"
	"microtask/internal/operation"
	"microtask/internal/platform/logging"
	"microtask/migrations"
)

// These tests need the package's internals, so they cannot use storagetest
// (which imports this package); newTestDB does the same on a server of this
// test binary's own.
var testServer struct {
	once sync.Once
	emb  *Embedded
	root *DB
	dir  string
	err  error
	seq  atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testServer.root != nil {
		_ = testServer.root.Close(context.Background())
		testServer.emb.Stop()
	}
	_ = os.RemoveAll(testServer.dir)
	os.Exit(code)
}

func newTestDB(t testing.TB) *DB {
	t.Helper()
	ts := &testServer
	ts.once.Do(func() {
		if ts.dir, ts.err = os.MkdirTemp("", "microtask-storage-test-"); ts.err != nil {
			return
		}
		if ts.emb, ts.err = StartEmbedded(ts.dir, logging.Discard()); ts.err != nil {
			return
		}
		ts.root, ts.err = ts.emb.Connect(context.Background(), "unused", logging.Discard())
	})
	if ts.err != nil {
		t.Fatalf("start embedded database: %v", ts.err)
	}
	db := ts.root.Sibling(fmt.Sprintf("storage_%d", ts.seq.Add(1)))
	if _, err := db.Migrate(context.Background(), migrations.FS, logging.Discard()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

func TestOpenDetectsFerretDB(t *testing.T) {
	db := newTestDB(t)
	if !db.Serialized() {
		t.Errorf("Serialized() = false on embedded FerretDB, want true")
	}
	ok, err := isFerretDB(context.Background(), db.client)
	if err != nil || !ok {
		t.Errorf("isFerretDB() = %v, %v; want true, nil", ok, err)
	}
}

// concurrentGuardedIncs runs n concurrent conditional updates
// {_id, n: {$lt: limit}} -> {$inc: {n: 1}} on one document through c and
// returns how many reported success and the final counter.
func concurrentGuardedIncs(t *testing.T, c collection, n, limit int) (succeeded, final int64) {
	t.Helper()
	ctx := context.Background()
	if err := c.insertOne(ctx, bson.D{{Key: "_id", Value: "doc"}, {Key: "n", Value: int64(0)}}); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			m, err := c.updateOne(ctx,
				bson.D{{Key: "_id", Value: "doc"}, {Key: "n", Value: bson.D{{Key: "$lt", Value: int64(limit)}}}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}}, false)
			if err != nil {
				t.Errorf("updateOne() error = %v", err)
			}
			ok.Add(m)
		})
	}
	wg.Wait()
	var doc struct {
		N int64 `bson:"n"`
	}
	if err := c.findOne(ctx, bson.D{{Key: "_id", Value: "doc"}}, &doc); err != nil {
		t.Fatal(err)
	}
	return ok.Load(), doc.N
}

// TestGateMakesConditionalUpdatesAtomic is the reason the gate exists: on
// FerretDB, concurrent conditional updates of one document lose writes and
// let too many through; serialized, they are exact.
func TestGateMakesConditionalUpdatesAtomic(t *testing.T) {
	db := newTestDB(t)

	t.Run("serialized", func(t *testing.T) {
		for _, limit := range []int{50, 30} {
			c := db.collection("gate_on")
			ok, final := concurrentGuardedIncs(t, c, 50, limit)
			if ok != int64(limit) || final != int64(limit) {
				t.Errorf("limit %d: %d updates succeeded and the counter is %d, want %d and %d", limit, ok, final, limit, limit)
			}
			if _, err := c.deleteOne(context.Background(), bson.D{{Key: "_id", Value: "doc"}}); err != nil {
				t.Fatal(err)
			}
		}
	})

	// Per-document locks (the test mode that models MongoDB) make each
	// document's updates as atomic as the gate does.
	t.Run("per document", func(t *testing.T) {
		for _, limit := range []int{50, 30} {
			c := collection{c: db.db.Collection("per_doc"), docs: newDocLocks()}
			ok, final := concurrentGuardedIncs(t, c, 50, limit)
			if ok != int64(limit) || final != int64(limit) {
				t.Errorf("limit %d: %d updates succeeded and the counter is %d, want %d and %d", limit, ok, final, limit, limit)
			}
			if _, err := c.deleteOne(context.Background(), bson.D{{Key: "_id", Value: "doc"}}); err != nil {
				t.Fatal(err)
			}
		}
	})

	// For the record: the same with the gate off. The outcome varies from
	// run to run, so it is logged, not asserted.
	t.Run("unserialized", func(t *testing.T) {
		c := collection{c: db.db.Collection("gate_off")}
		ok, final := concurrentGuardedIncs(t, c, 50, 50)
		t.Logf("gate off: %d of 50 updates reported success, counter is %d: %d increments lost", ok, final, ok-final)
	})
}

func TestGateHonoursContext(t *testing.T) {
	g := newGate(nil)
	leave, err := g.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer leave()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.enter(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("enter() while held error = %v, want DeadlineExceeded", err)
	}
}

func TestIsDuplicateCoversUpdates(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	c := db.collection("dups")
	if err := db.runCommand(ctx, bson.D{{Key: "createIndexes", Value: "dups"}, {Key: "indexes", Value: bson.A{
		bson.D{{Key: "key", Value: bson.D{{Key: "email", Value: 1}}}, {Key: "name", Value: "email_unique"}, {Key: "unique", Value: true}},
	}}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"a@x", "b@x"} {
		if err := c.insertOne(ctx, bson.D{{Key: "email", Value: e}}); err != nil {
			t.Fatal(err)
		}
	}
	err := c.insertOne(ctx, bson.D{{Key: "email", Value: "a@x"}})
	if !isDuplicate(err) {
		t.Errorf("isDuplicate(insert error %v) = false, want true", err)
	}
	_, err = c.updateOne(ctx, bson.D{{Key: "email", Value: "b@x"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: "a@x"}}}}, false)
	if !isDuplicate(err) {
		t.Errorf("isDuplicate(update error %v) = false, want true", err)
	}
	// The refusal is certain, so the in-memory copy stays, unchanged.
	if c.copy.current() == nil {
		t.Errorf("a refused update dropped the in-memory copy")
	}
	if n, err := c.count(ctx, bson.D{{Key: "email", Value: "b@x"}}); n != 1 || err != nil {
		t.Errorf("count(b@x) after the refused update = %d, %v; want 1", n, err)
	}
	if isDuplicate(errors.New("other")) || isDuplicate(nil) {
		t.Errorf("isDuplicate() = true for a non-duplicate error")
	}
}

func TestMigrateAppliesEachVersionOnce(t *testing.T) {
	db := newTestDB(t) // already migrated with migrations.FS
	ctx := context.Background()
	log := logging.Discard()

	applied, err := db.Migrate(ctx, migrations.FS, log)
	if err != nil || len(applied) != 0 {
		t.Fatalf("Migrate() again = %v, %v; want nothing applied", applied, err)
	}

	more := fstest.MapFS{
		"0001_ledger.json":      {Data: []byte(`[]`)}, // recorded already: not run
		"0900_widgets.json":     {Data: []byte(`[{"createIndexes": "widgets", "indexes": [{"key": {"sku": 1}, "name": "widgets_sku", "unique": true}]}]`)},
		"0901_widget_seed.json": {Data: []byte(`[{"insert": "widgets", "documents": [{"sku": "w1", "stock": {"$numberLong": "7"}}]}]`)},
	}
	applied, err = db.Migrate(ctx, more, log)
	if err != nil {
		t.Fatalf("Migrate() error = %v", err)
	}
	if len(applied) != 2 || applied[0].Version != 900 || applied[1].Name != "widget_seed" {
		t.Errorf("Migrate() applied %+v, want 0900 then 0901", applied)
	}
	// The unique index from 0900 holds, and 0901 ran once.
	if err := db.collection("widgets").insertOne(ctx, bson.D{{Key: "sku", Value: "w1"}}); !isDuplicate(err) {
		t.Errorf("insert of a second w1: error = %v, want a duplicate", err)
	}
	if applied, err = db.Migrate(ctx, more, log); err != nil || len(applied) != 0 {
		t.Errorf("third Migrate() = %v, %v; want nothing applied", applied, err)
	}
}

func TestMigrateRejectsBadFiles(t *testing.T) {
	db := newTestDB(t)
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"bad name", fstest.MapFS{"1_x.json": {Data: []byte(`[]`)}}, "name must look like"},
		{"same version", fstest.MapFS{"0950_a.json": {Data: []byte(`[]`)}, "0950_b.json": {Data: []byte(`[]`)}}, "share version"},
		{"not an array", fstest.MapFS{"0951_a.json": {Data: []byte(`{"create": "x"}`)}}, "JSON array"},
		{"failing command", fstest.MapFS{"0952_a.json": {Data: []byte(`[{"noSuchCommand": 1}]`)}}, "command 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.Migrate(context.Background(), tt.fs, logging.Discard())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Migrate() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMigrateTakesOverAnExpiredLock(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	c := db.collection(migrationsCollection)
	// A live lock held by another instance makes Migrate wait...
	if err := c.insertOne(ctx, bson.D{{Key: "_id", Value: "lock"}, {Key: "owner", Value: "other"}, {Key: "until", Value: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := db.Migrate(short, migrations.FS, logging.Discard()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate() under a live lock error = %v, want it to wait until the deadline", err)
	}
	// ...and a lock left by a crashed instance is taken over.
	if _, err := c.updateOne(ctx, bson.D{{Key: "_id", Value: "lock"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: time.Now().Add(-time.Second)}}}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, migrations.FS, logging.Discard()); err != nil {
		t.Errorf("Migrate() with an expired lock error = %v", err)
	}
	var lock bson.M
	if err := c.findOne(ctx, bson.D{{Key: "_id", Value: "lock"}}, &lock); !errors.Is(err, errNoDocument) {
		t.Errorf("lock after Migrate() = %v, %v; want it released", lock, err)
	}
}

// TestAuditDetectsTampering changes the database behind the ledger's back
// and checks that the audit notices each kind of damage.
func TestAuditDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(ctx context.Context, db *DB) error
		want   string
	}{
		{"balance edited", func(ctx context.Context, db *DB) error {
			_, err := db.collection("accounts").updateOne(ctx, bson.D{{Key: "_id", Value: "user:a"}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(5)}}}}, false)
			return err
		}, "balances sum to 5"},
		{"transfer deleted", func(ctx context.Context, db *DB) error {
			_, err := db.collection(operationsCollection).deleteOne(ctx, bson.D{{Key: "_id", Value: "task-fund:t"}})
			return err
		}, "account escrow:t has balance 4 but its postings sum to 0"},
		{"negative user", func(ctx context.Context, db *DB) error {
			c := db.collection("accounts")
			if _, err := c.updateOne(ctx, bson.D{{Key: "_id", Value: "user:a"}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: int64(-1)}}}}, false); err != nil {
				return err
			}
			_, err := c.updateOne(ctx, bson.D{{Key: "_id", Value: "escrow:t"}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(7)}}}}, false)
			return err
		}, "account user:a is negative"},
		{"unknown pending op", func(ctx context.Context, db *DB) error {
			_, err := db.collection("accounts").updateOne(ctx, bson.D{{Key: "_id", Value: "user:a"}},
				bson.D{{Key: "$push", Value: bson.D{{Key: "pending", Value: "signup:zz"}}}}, false)
			return err
		}, "account user:a lists unknown operation signup:zz as pending"},
		{"pending op of another account", func(ctx context.Context, db *DB) error {
			_, err := db.collection("accounts").updateOne(ctx, bson.D{{Key: "_id", Value: "escrow:t"}},
				bson.D{{Key: "$push", Value: bson.D{{Key: "pending", Value: "signup:a"}}}}, false)
			return err
		}, "account escrow:t lists operation signup:a as pending, which does not post to it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			ctx := context.Background()
			svc := ledger.New(NewLedgerStore(db), logging.Discard())
			ops := operation.NewEngine(NewOperationStore(db), svc, logging.Discard(), nil)
			for _, req := range []operation.Request{
				{Kind: "signup", Ref: "a", Postings: ledger.Move(ledger.Mint, "user:a", 10), Data: struct{}{}},
				{Kind: "task-fund", Ref: "t", Postings: ledger.Move("user:a", "escrow:t", 4), Data: struct{}{}},
			} {
				if err := ops.Register(operation.Kind[struct{}]{Name: req.Kind}.Define()); err != nil {
					t.Fatal(err)
				}
				if _, err := ops.Run(ctx, req); err != nil {
					t.Fatal(err)
				}
			}
			if r, err := svc.Audit(ctx); err != nil || !r.Balanced {
				t.Fatalf("Audit() before tampering = %+v, %v", r, err)
			}
			if err := tt.tamper(ctx, db); err != nil {
				t.Fatal(err)
			}
			r, err := svc.Audit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Balanced || !strings.Contains(strings.Join(r.Problems, "\n"), tt.want) {
				t.Errorf("Audit() = balanced %v, problems %q; want unbalanced with %q", r.Balanced, r.Problems, tt.want)
			}
		})
	}
}

// TestMergeTransferRecords runs migration 0006's step on records in the
// former layout: a journal record with its outcome, one with its run in
// flight, and a run never journaled.
func TestMergeTransferRecords(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	if err := db.dropCollection(ctx, operationsCollection); err != nil { // as before migration 0006
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	postings := bson.A{bson.D{{Key: "account", Value: ledger.Mint}, {Key: "amount", Value: int64(-10)}},
		bson.D{{Key: "account", Value: "user:a"}, {Key: "amount", Value: int64(10)}}}
	insert := func(coll string, docs ...bson.D) {
		t.Helper()
		for _, d := range docs {
			if err := db.collection(coll).insertOne(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert("transfers",
		bson.D{{Key: "_id", Value: "signup:a"}, {Key: "postings", Value: postings}, {Key: "hooked", Value: false}, {Key: "created_at", Value: at}},
		bson.D{{Key: "_id", Value: "signup:b"}, {Key: "postings", Value: postings}, {Key: "hooked", Value: true}, {Key: "created_at", Value: at}})
	insert("transfer_outcomes", bson.D{{Key: "_id", Value: "signup:a"}, {Key: "state", Value: "posted"}, {Key: "ended_at", Value: at.Add(time.Second)}})
	run := func(id string) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "postings", Value: postings}, {Key: "private", Value: bson.D{{Key: "k", Value: "v"}}},
			{Key: "hooked", Value: true}, {Key: "state", Value: "pending"}, {Key: "lease_until", Value: at.Add(time.Minute)},
			{Key: "created_at", Value: at}, {Key: "updated_at", Value: at}}
	}
	insert("transfer_runs", run("signup:b"), run("signup:c"))
	insert("entries", bson.D{{Key: "op", Value: "signup:a"}, {Key: "account", Value: "user:a"}, {Key: "amount", Value: int64(10)}})

	for range 2 { // safe to repeat
		if err := db.mergeTransferRecords(ctx); err != nil {
			t.Fatal(err)
		}
	}
	store := NewOperationStore(db)
	for id, want := range map[string]operation.State{"signup:a": operation.Posted, "signup:b": operation.Pending, "signup:c": operation.Pending} {
		tr, err := store.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%s) error = %v", id, err)
		}
		if tr.State != want || len(tr.Postings) != 2 {
			t.Errorf("%s = %+v, want state %s with its postings", id, tr, want)
		}
		if want == operation.Pending && !tr.LeaseUntil.Equal(at.Add(time.Minute)) {
			t.Errorf("%s lost its run: lease %v", id, tr.LeaseUntil)
		}
	}
	names, err := db.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"transfer_runs", "transfer_outcomes", "entries", "transfers"} {
		if slices.Contains(names, gone) {
			t.Errorf("collection %s still exists", gone)
		}
	}
}

func TestAppliedTellsWhatABulkWriteDid(t *testing.T) {
	bulk := func(idx ...int) error {
		var e mongo.BulkWriteException
		for _, i := range idx {
			e.WriteErrors = append(e.WriteErrors, mongo.BulkWriteError{WriteError: mongo.WriteError{Index: i, Code: 11000}})
		}
		return e
	}
	tests := []struct {
		name     string
		err      error
		n        int
		ordered  bool
		done     []bool
		definite bool
	}{
		{"all applied", nil, 2, true, []bool{true, true}, true},
		{"ordered stops at the error", bulk(1), 3, true, []bool{true, false, false}, true},
		{"unordered goes on", bulk(1), 3, false, []bool{true, false, true}, true},
		{"one model refused by the command", mongo.CommandError{Code: 1}, 1, true, []bool{false}, true},
		{"several models, command error", mongo.CommandError{Code: 1}, 2, true, []bool{false, false}, false},
		{"no answer", context.DeadlineExceeded, 1, true, []bool{false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, definite := applied(tt.err, tt.n, tt.ordered)
			if !slices.Equal(done, tt.done) || definite != tt.definite {
				t.Errorf("applied() = %v, %v; want %v, %v", done, definite, tt.done, tt.definite)
			}
		})
	}
}
