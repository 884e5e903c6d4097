package docdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/logging"
)

// TestLargeWritesNeverWedge sends writes of 1,000 documents in every way the
// stores can (InsertMany, UpdateMany, DeleteMany), on the embedded database
// and on a FerretDB server of its own, and requires each to return and a
// small write to pass right after. On FerretDB v1.24 an update command of
// 100 or more statements, which a copy in memory once sent for a write of
// 100 documents, wedged the server for good (its SQLite pool held 100
// connections, each statement kept one until the command ended): every
// later write waited forever behind the gate. The embedded database writes
// its own file; on a server, each write is one statement.
func TestLargeWritesNeverWedge(t *testing.T) {
	ctx := context.Background()
	emb, err := StartEmbedded(t.TempDir(), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name string
		open func(name string) (*DB, error)
	}{
		{"embedded", func(name string) (*DB, error) { return OpenEmbedded(ctx, t.TempDir(), name, logging.Discard()) }},
		{"server", func(name string) (*DB, error) { return emb.Connect(ctx, name, logging.Discard()) }},
		{"per-document locks", func(name string) (*DB, error) {
			return emb.Connect(ctx, name, logging.Discard(), WithPerDocumentLocks())
		}},
	}
	var dbs []*DB
	t.Cleanup(func() {
		if t.Failed() {
			return // a wedged server never stops; the process ends anyway
		}
		for _, db := range dbs {
			_ = db.Close(ctx)
		}
		emb.Stop()
	})
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			db, err := m.open(fmt.Sprintf("wedge_%d", i))
			if err != nil {
				t.Fatal(err)
			}
			dbs = append(dbs, db)
			c := db.Collection("notes")
			docs := make([]any, 1000)
			for i := range docs {
				docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("n%04d", i)}, {Key: "user", Value: "u"}, {Key: "read", Value: false}}
			}
			steps := []struct {
				name  string
				write func() (int64, error)
				want  int64
			}{
				{"InsertMany", func() (int64, error) { return 1000, c.InsertMany(ctx, docs, true) }, 1000},
				{"UpdateMany", func() (int64, error) {
					return c.UpdateMany(ctx, bson.D{{Key: "user", Value: "u"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "read", Value: true}}}})
				}, 1000},
				{"UpdateMany by _id", func() (int64, error) {
					ids := make([]string, 500)
					for i := range ids {
						ids[i] = fmt.Sprintf("n%04d", i)
					}
					return c.UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
						bson.D{{Key: "$unset", Value: bson.D{{Key: "read", Value: ""}}}})
				}, 500},
				{"DeleteMany", func() (int64, error) { return c.DeleteMany(ctx, bson.D{{Key: "user", Value: "u"}}) }, 1000},
			}
			for _, st := range steps {
				n, err := within(t, 60*time.Second, st.write)
				if err != nil || n != st.want {
					t.Fatalf("%s = %d, %v; want %d, nil", st.name, n, err, st.want)
				}
				if _, err := within(t, 2*time.Second, func() (int64, error) {
					return 1, db.Collection("users").InsertOne(ctx, bson.D{{Key: "after", Value: st.name}})
				}); err != nil {
					t.Fatalf("a write after %s: %v", st.name, err)
				}
			}
		})
	}
}

// within runs f and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, f func() (int64, error)) (int64, error) {
	t.Helper()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := f()
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(d):
		t.Fatalf("no answer after %s: the database is wedged", d)
		return 0, nil
	}
}
