package docdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/logging"
)

type item struct {
	ID string `bson:"_id"`
	N  int64  `bson:"n"`
	K  string `bson:"k,omitempty"`
}

func ids(t *testing.T, c Collection) []string {
	t.Helper()
	var out []string
	if err := Each(context.Background(), c, bson.D{}, Query{}, func(it item) error {
		out = append(out, it.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEmbeddedKeepsWhatItWasToldAcrossReopens: documents, their natural
// order (insertion, a replacement keeping its place), deletions and the
// indexes survive closing and opening the database again.
func TestEmbeddedKeepsWhatItWasToldAcrossReopens(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenEmbedded(ctx, dir, "shop", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, testMigrations, nil, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	if err := db.runCommand(ctx, bson.D{{Key: "createIndexes", Value: "items"}, {Key: "indexes", Value: bson.A{
		bson.D{{Key: "key", Value: bson.D{{Key: "k", Value: 1}}}, {Key: "name", Value: "items_k_unique"}, {Key: "unique", Value: true}},
	}}}); err != nil {
		t.Fatal(err)
	}
	c := db.Collection("items")
	for _, id := range []string{"c", "a", "b", "d"} {
		if err := c.InsertOne(ctx, item{ID: id, K: "k" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(5)}}}}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: "b"}}); err != nil {
		t.Fatal(err)
	}
	want := ids(t, c)
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}

	db, err = OpenEmbedded(ctx, dir, "shop", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	c = db.Collection("items")
	if got := ids(t, c); !slices.Equal(got, want) || !slices.Equal(got, []string{"c", "a", "d"}) {
		t.Errorf("after a reopen the documents are %v, want %v in that order", got, want)
	}
	var a item
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}, &a); err != nil || a.N != 5 {
		t.Errorf("FindOne(a) = %+v, %v; want n 5", a, err)
	}
	if err := c.InsertOne(ctx, item{ID: "e", K: "kc"}); !IsDuplicate(err) {
		t.Errorf("a duplicate key after a reopen: error %v, want a duplicate (the index survives)", err)
	}
	applied, err := db.Migrate(ctx, testMigrations, nil, logging.Discard())
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate() after a reopen = %v, %v; want nothing to apply", applied, err)
	}
	names, err := db.CollectionNames(ctx)
	if err != nil || !slices.Contains(names, "items") || !slices.Contains(names, "accounts") {
		t.Errorf("CollectionNames() = %v, %v", names, err)
	}
}

// TestEmbeddedRefusesDuplicatesAsMongoDB: a write that would give two
// documents one _id or one unique key is refused as MongoDB refuses it; an
// ordered InsertMany stops there, an unordered one goes on; an update that
// leaves the key alone is not checked against itself; a missing field
// counts as null.
func TestEmbeddedRefusesDuplicatesAsMongoDB(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	if err := db.runCommand(ctx, bson.D{{Key: "createIndexes", Value: "items"}, {Key: "indexes", Value: bson.A{
		bson.D{{Key: "key", Value: bson.D{{Key: "k", Value: 1}}}, {Key: "name", Value: "items_k_unique"}, {Key: "unique", Value: true}},
	}}}); err != nil {
		t.Fatal(err)
	}
	c := db.Collection("items")
	docs := []any{item{ID: "1", K: "x"}, item{ID: "2", K: "x"}, item{ID: "3", K: "y"}}
	if err := c.InsertMany(ctx, docs, true); !IsDuplicate(err) {
		t.Errorf("ordered InsertMany with a duplicate: error %v, want a duplicate", err)
	}
	if got := ids(t, c); !slices.Equal(got, []string{"1"}) {
		t.Errorf("after an ordered InsertMany stopped at the second: %v, want [1]", got)
	}
	if err := c.InsertMany(ctx, []any{item{ID: "4", K: "x"}, item{ID: "5", K: "z"}, item{ID: "1", K: "w"}}, false); !IsDuplicate(err) {
		t.Errorf("unordered InsertMany with duplicates: error %v, want a duplicate", err)
	}
	if got := ids(t, c); !slices.Equal(got, []string{"1", "5"}) {
		t.Errorf("after an unordered InsertMany: %v, want [1 5]", got)
	}
	if n, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: "1"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}}, false); n != 1 || err != nil {
		t.Errorf("an update leaving the key alone = %d, %v", n, err)
	}
	if err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "6"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "7"}}); !IsDuplicate(err) {
		t.Errorf("a second document without the key: error %v, want a duplicate (missing is null)", err)
	}
	if n, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: "9"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "k", Value: "z"}}}}, true); !IsDuplicate(err) || n != 0 {
		t.Errorf("an upsert taking a key = %d, %v; want a duplicate", n, err)
	}
}

// TestEmbeddedFailedCommitAnswersEveryWriteOfIt: when a batch cannot be
// written, its writes answer the error, the copy goes back to what the file
// holds, and the next writes work.
func TestEmbeddedFailedCommitAnswersEveryWriteOfIt(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	c := db.Collection("items")
	if err := c.InsertOne(ctx, item{ID: "kept", N: 1}); err != nil {
		t.Fatal(err)
	}
	full := errors.New("database or disk is full (13)")
	db.mem.failCommit = func() error { return full }
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = c.InsertOne(ctx, item{ID: fmt.Sprint(i)}) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("write %d during the failure: error %v, want ErrUnavailable", i, err)
		}
	}
	if got := ids(t, c); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("the copy after a failed commit holds %v, want only what the file holds", got)
	}
	if reason := db.health.current(); reason != "the disk under the database is full" {
		t.Errorf("health = %q, want the disk named", reason)
	}
	db.mem.failCommit = nil
	if err := c.InsertOne(ctx, item{ID: "after"}); err != nil {
		t.Errorf("a write once the disk has room: %v", err)
	}
	if db.health.current() != "" {
		t.Errorf("health = %q after a write succeeded, want healthy", db.health.current())
	}
}

// TestEmbeddedGroupsConcurrentWrites: writes that arrive while a batch is
// on its way to disk share the next commit.
func TestEmbeddedGroupsConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	obs := &commitCounter{}
	db, err := OpenEmbedded(ctx, t.TempDir(), "shop", logging.Discard(), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	c := db.Collection("items")
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := c.InsertOne(ctx, item{ID: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.docs != 200+1 || obs.commits >= 200 { // the collection's creation is one more
		t.Errorf("%d documents in %d commits, want 201 in fewer commits than writes", obs.docs, obs.commits)
	}
	t.Logf("200 concurrent writes in %d commits", obs.commits)
}

type commitCounter struct {
	noObserver
	mu            sync.Mutex
	commits, docs int
}

func (c *commitCounter) Committed(docs int, _ error, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits++
	c.docs += docs
}

// TestDeferredWritesWaitOnceAndStopAfterALoss: writes of a Deferred run
// answer once staged and are on disk after its flush; when a commit loses
// one of them, the run's next write and its flush answer ErrUnavailable,
// and the copy holds nothing of the lost writes, while a new run works.
func TestDeferredWritesWaitOnceAndStopAfterALoss(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenEmbedded(ctx, dir, "shop", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	c := db.Collection("items")
	run, flush := db.Deferred(ctx)
	for i := range 5 {
		if err := c.InsertOne(run, item{ID: fmt.Sprint("ok", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := flush(); err != nil {
		t.Fatalf("flush() = %v", err)
	}

	attempted := make(chan struct{}, 1)
	db.mem.failCommit = func() error {
		select {
		case attempted <- struct{}{}:
		default:
		}
		return errors.New("database or disk is full (13)")
	}
	run, flush = db.Deferred(ctx)
	if err := c.InsertOne(run, item{ID: "lost"}); err != nil {
		t.Fatalf("a deferred write answers once staged: %v", err)
	}
	<-attempted
	// Until the committer has taken the copy back, a read may still see
	// the lost write; a write of the run may not go on after it.
	for {
		leave := db.mem.enterGate()
		epoch := db.mem.epoch
		leave()
		if epoch > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.InsertOne(run, item{ID: "after"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("the run's write after a lost one: error %v, want ErrUnavailable", err)
	}
	if err := flush(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("flush() after a lost write = %v, want ErrUnavailable", err)
	}
	db.mem.failCommit = nil
	run, flush = db.Deferred(ctx)
	if err := c.InsertOne(run, item{ID: "new"}); err != nil {
		t.Fatal(err)
	}
	if err := flush(); err != nil {
		t.Fatalf("a new run's flush() = %v", err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	db, err = OpenEmbedded(ctx, dir, "shop", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if got := ids(t, db.Collection("items")); !slices.Equal(got, []string{"ok0", "ok1", "ok2", "ok3", "ok4", "new"}) {
		t.Errorf("on disk: %v, want the five of the first run and the new one", got)
	}
}
