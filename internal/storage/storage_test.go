package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/ledger"
	"microtask/internal/operation"
	"microtask/internal/platform/logging"
)

// These tests need the package's internals, so they cannot use storagetest
// (which imports this package); newTestDB does the same: an embedded
// database per test, and newServerReadsDB one on an embedded FerretDB of
// this test binary's own.
var testServer struct {
	once sync.Once
	emb  *docdb.Embedded
	root *docdb.DB
	// plain sends every read to the server and every write as it is, as
	// on MongoDB.
	plain *docdb.DB
	dir   string
	err   error
	seq   atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testServer.root != nil {
		_ = testServer.root.Close(context.Background())
		_ = testServer.plain.Close(context.Background())
		testServer.emb.Stop()
	}
	_ = os.RemoveAll(testServer.dir)
	os.Exit(code)
}

func newTestDB(t testing.TB) *docdb.DB {
	t.Helper()
	return newDB(t, func() *docdb.DB { return testServer.root })
}

// newServerReadsDB is newTestDB for a database that sends every read to the
// server and every write as it is, as to MongoDB.
func newServerReadsDB(t testing.TB) *docdb.DB {
	t.Helper()
	return newDB(t, func() *docdb.DB { return testServer.plain })
}

func newDB(t testing.TB, parent func() *docdb.DB) *docdb.DB {
	t.Helper()
	ts := &testServer
	ts.once.Do(func() {
		if ts.dir, ts.err = os.MkdirTemp("", "microtask-storage-test-"); ts.err != nil {
			return
		}
		if ts.emb, ts.err = docdb.StartEmbedded(filepath.Join(ts.dir, "ferretdb"), logging.Discard()); ts.err != nil {
			return
		}
		if ts.root, ts.err = docdb.OpenEmbedded(context.Background(), filepath.Join(ts.dir, "store"), "unused", logging.Discard()); ts.err != nil {
			return
		}
		ts.plain, ts.err = ts.emb.Connect(context.Background(), "unused", logging.Discard())
	})
	if ts.err != nil {
		t.Fatalf("start embedded database: %v", ts.err)
	}
	db := parent().Sibling(fmt.Sprintf("storage_%d", ts.seq.Add(1)))
	if _, err := Migrate(context.Background(), db, logging.Discard()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// TestAuditDetectsTampering changes the database behind the ledger's back
// and checks that the audit notices each kind of damage.
func TestAuditDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(ctx context.Context, db *docdb.DB) error
		want   string
	}{
		{"balance edited", func(ctx context.Context, db *docdb.DB) error {
			_, err := db.Collection("accounts").UpdateOne(ctx, bson.D{{Key: "_id", Value: "user:a"}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(5)}}}}, false)
			return err
		}, "balances sum to 5"},
		{"transfer deleted", func(ctx context.Context, db *docdb.DB) error {
			_, err := db.Collection(operationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "task-fund:t"}})
			return err
		}, "account escrow:t has balance 4 but its postings sum to 0"},
		{"negative user", func(ctx context.Context, db *docdb.DB) error {
			c := db.Collection("accounts")
			if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: "user:a"}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: int64(-1)}}}}, false); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: "escrow:t"}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(7)}}}}, false)
			return err
		}, "account user:a is negative"},
		{"unknown pending op", func(ctx context.Context, db *docdb.DB) error {
			_, err := db.Collection("accounts").UpdateOne(ctx, bson.D{{Key: "_id", Value: "user:a"}},
				bson.D{{Key: "$push", Value: bson.D{{Key: "pending", Value: "signup:zz"}}}}, false)
			return err
		}, "account user:a lists unknown operation signup:zz as pending"},
		{"pending op of another account", func(ctx context.Context, db *docdb.DB) error {
			_, err := db.Collection("accounts").UpdateOne(ctx, bson.D{{Key: "_id", Value: "escrow:t"}},
				bson.D{{Key: "$push", Value: bson.D{{Key: "pending", Value: "signup:a"}}}}, false)
			return err
		}, "account escrow:t lists operation signup:a as pending, which does not post to it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			ctx := context.Background()
			svc := ledger.New(NewLedgerStore(db), logging.Discard())
			ops := operation.NewEngine(NewOperationStore(db), svc, nil, logging.Discard(), nil)
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
	if err := db.DropCollection(ctx, operationsCollection); err != nil { // as before migration 0006
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	postings := bson.A{bson.D{{Key: "account", Value: ledger.Mint}, {Key: "amount", Value: int64(-10)}},
		bson.D{{Key: "account", Value: "user:a"}, {Key: "amount", Value: int64(10)}}}
	insert := func(coll string, docs ...bson.D) {
		t.Helper()
		for _, d := range docs {
			if err := db.Collection(coll).InsertOne(ctx, d); err != nil {
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
		if err := (migrator{db}).mergeTransferRecords(ctx); err != nil {
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
	names, err := db.CollectionNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"transfer_runs", "transfer_outcomes", "entries", "transfers"} {
		if slices.Contains(names, gone) {
			t.Errorf("collection %s still exists", gone)
		}
	}
}
