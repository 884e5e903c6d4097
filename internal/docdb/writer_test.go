package docdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/logging"
)

// TestSecondWriterRefused: two processes writing one FerretDB database lose
// each other's updates, so the second to open it by URI refuses to start
// while the first holds the writer lease; once the first closes, the lease is
// free at once.
func TestSecondWriterRefused(t *testing.T) {
	ctx := context.Background()
	emb, err := StartEmbedded(t.TempDir(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Stop()
	// Long enough that a start waiting for the lease to expire shows, even
	// under the race detector.
	const ttl = 3 * time.Second
	first, err := emb.Connect(ctx, "shop", logging.Discard(), WithWriterLease(ttl))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := Open(ctx, emb.URI(), "shop", logging.Discard(), WithWriterLease(ttl))
	if err == nil {
		_ = second.Close(ctx)
		t.Fatal("a second writer opened the database while the first held its lease")
	}
	if !strings.Contains(err.Error(), "another Microtask process") {
		t.Errorf("Open() error = %v, want one naming the other process", err)
	}
	if waited := time.Since(start); waited > 2*ttl {
		t.Errorf("the refusal took %s, want under %s", waited, 2*ttl)
	}
	// Another database on the same server is another lease.
	other, err := Open(ctx, emb.URI(), "elsewhere", logging.Discard(), WithWriterLease(ttl))
	if err != nil {
		t.Fatalf("Open(another database) error = %v", err)
	}
	_ = other.Close(ctx)

	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	second, err = Open(ctx, emb.URI(), "shop", logging.Discard(), WithWriterLease(ttl))
	if err != nil {
		t.Fatalf("Open() after the first writer closed: %v", err)
	}
	defer second.Close(ctx)
	if waited := time.Since(start); waited > ttl/2 {
		t.Errorf("opening after a clean close took %s: the lease was not given up", waited)
	}
}

// TestWriterLeaseOfAKilledProcess: a process killed with its lease held
// leaves the lease behind; by URI the next writer waits for it to expire
// (nobody renews it), and the embedded server, which no other process can
// have reached before it started, takes it over at once.
func TestWriterLeaseOfAKilledProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	emb, err := StartEmbedded(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { emb.Stop() }()
	const ttl = 600 * time.Millisecond
	stale := func(db *DB, until time.Time) {
		t.Helper()
		if _, err := db.Collection(LeasesCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: writerLeaseName}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: "killed"}, {Key: "until", Value: until.UTC()}}}}, true); err != nil {
			t.Fatal(err)
		}
	}

	plain, err := emb.Connect(ctx, "other", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	db := plain.Sibling("shop")
	stale(db, time.Now().Add(ttl))
	start := time.Now()
	byURI, err := Open(ctx, emb.URI(), "shop", logging.Discard(), WithWriterLease(ttl))
	if err != nil {
		t.Fatalf("Open() with a stale lease: %v", err)
	}
	if waited := time.Since(start); waited < ttl/2 {
		t.Errorf("Open() took the lease after %s, before it expired", waited)
	}
	_ = byURI.Close(ctx)

	stale(db, time.Now().Add(time.Hour))
	_ = plain.Close(ctx)
	emb.Stop()
	if emb, err = StartEmbedded(dir, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	again, err := emb.Connect(ctx, "shop", logging.Discard())
	if err != nil {
		t.Fatalf("Connect() after a restart: %v", err)
	}
	defer again.Close(ctx)
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("the embedded server waited %s for the lease of a dead process", waited)
	}
}
