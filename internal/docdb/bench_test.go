package docdb

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/logging"
)

// fill inserts n documents shaped like accounts into c, a thousand at a
// time.
func fill(b *testing.B, c Collection, n int) {
	b.Helper()
	for start := 0; start < n; start += 1000 {
		var docs []any
		for i := start; i < min(start+1000, n); i++ {
			docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("user:%08d", i)}, {Key: "kind", Value: "user"},
				{Key: "balance", Value: int64(10)}, {Key: "pending", Value: bson.A{}}})
		}
		if err := c.InsertMany(context.Background(), docs, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateByID is a ledger posting on one account among many: a
// conditional update by _id. Its cost must not grow with the collection
// (issue 10: under 2x from 1,000 to 50,000 documents). "embedded" is the
// embedded database (the condition checked in memory, the document written
// to its file); "server" sends the update as it is, as to MongoDB, to
// FerretDB, which finds the document through the _id index only for a
// filter of _id alone. "embedded/writers=16" runs sixteen writers at once,
// as a busy server does: their writes share commits (group commit).
func BenchmarkUpdateByID(b *testing.B) {
	for _, mode := range []string{"embedded", "server"} {
		for _, n := range []int{1_000, 50_000} {
			b.Run(fmt.Sprintf("%s/docs=%d", mode, n), func(b *testing.B) {
				db := newTestDB(b)
				if mode == "server" {
					db = newServerDB(b)
				}
				c := db.Collection("accounts")
				fill(b, c, n)
				b.ResetTimer()
				for i := range b.N {
					updateAccount(b, c, mode == "embedded", i, n)
				}
			})
		}
	}
	b.Run("embedded/docs=50000/writers=16", func(b *testing.B) {
		c := newTestDB(b).Collection("accounts")
		fill(b, c, 50_000)
		var wg sync.WaitGroup
		next := make(chan int)
		b.ResetTimer()
		for range 16 {
			wg.Go(func() {
				for i := range next {
					updateAccount(b, c, true, i, 50_000)
				}
			})
		}
		for i := range b.N {
			next <- i
		}
		close(next)
		wg.Wait()
	})
}

func updateAccount(b *testing.B, c Collection, guarded bool, i, n int) {
	id := fmt.Sprintf("user:%08d", (i*7919)%n)
	filter := bson.D{{Key: "_id", Value: id}}
	if guarded {
		filter = append(filter, bson.E{Key: "balance", Value: bson.D{{Key: "$gte", Value: int64(1)}}})
	}
	m, err := c.UpdateOne(context.Background(), filter, bson.D{{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(1)}}}}, false)
	if err != nil || m != 1 {
		b.Errorf("UpdateOne() = %d, %v", m, err)
	}
}

// seedDocs inserts n documents of a few hundred bytes, shaped as tasks are,
// into each of six collections.
func seedDocs(b *testing.B, db *DB, n int) {
	b.Helper()
	past := time.Now().Add(-30 * 24 * time.Hour).UTC()
	for _, name := range []string{"users", "accounts", "operations", "tasks", "submissions", "notifications"} {
		c := db.Collection(name)
		for start := 0; start < n; start += 1000 {
			var docs []any
			for i := start; i < min(start+1000, n); i++ {
				docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("%s%08d", name, i)},
					{Key: "title", Value: fmt.Sprintf("Seeded %s %d", name, i)}, {Key: "detail", Value: "An inert document of the scale run."},
					{Key: "user_id", Value: fmt.Sprintf("seed%08d", i)}, {Key: "status", Value: "expired"},
					{Key: "amount", Value: int64(1)}, {Key: "tags", Value: bson.A{}}, {Key: "created_at", Value: past}})
			}
			if err := c.InsertMany(context.Background(), docs, false); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkOpenEmbedded opens an embedded database holding n documents in
// each of six collections (as the load generator's scale runs do), which
// reads its file whole into memory, and reports the time an open takes and
// the heap it keeps against the BSON it holds (issue 10: under 1.5x): as
// loaded (heap/bson), and with every hash index a query could build
// (heap/bson-indexed), which the API never needs all of.
func BenchmarkOpenEmbedded(b *testing.B) {
	for _, n := range []int{5_000, 20_000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			ctx := context.Background()
			db, err := OpenEmbedded(ctx, dir, "bench", logging.Discard())
			if err != nil {
				b.Fatal(err)
			}
			seedDocs(b, db, n)
			if err := db.Close(ctx); err != nil {
				b.Fatal(err)
			}
			var size int64
			var docs int
			var ratio, indexed float64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				fresh, err := OpenEmbedded(ctx, dir, "bench", logging.Discard())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				_, docs, size = fresh.mem.stats()
				ratio = float64(after.HeapAlloc-before.HeapAlloc) / float64(size)
				for _, name := range fresh.mem.names() {
					fresh.mem.collection(name).m.Load().BuildIndexes()
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				indexed = float64(after.HeapAlloc-before.HeapAlloc) / float64(size)
				if err := fresh.Close(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(docs), "docs")
			b.ReportMetric(float64(size)/1e6, "MB-bson")
			b.ReportMetric(ratio, "heap/bson")
			b.ReportMetric(indexed, "heap/bson-indexed")
		})
	}
}
