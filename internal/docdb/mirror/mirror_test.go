package mirror

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func raw(t testing.TB, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func idsOf(docs []bson.Raw) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d.Lookup("_id").StringValue())
	}
	return out
}

// tasks is a small collection shaped like the tasks the stores keep.
func tasks(t testing.TB, hash func(string) uint64) *Collection {
	t.Helper()
	c := New([]string{"_id", "status", "buyer_id"})
	if hash != nil {
		c.hash = hash
		c.ids = newPositions(hash)
	}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var docs []bson.Raw
	for i, d := range []struct {
		status, buyer string
		slots         int64
	}{
		{"open", "b1", 3}, {"open", "b2", 0}, {"expired", "b1", 0}, {"open", "b1", 1}, {"deleted", "b2", 0},
	} {
		docs = append(docs, raw(t, bson.D{
			{Key: "_id", Value: fmt.Sprintf("t%d", i)}, {Key: "status", Value: d.status}, {Key: "buyer_id", Value: d.buyer},
			{Key: "required_workers", Value: d.slots}, {Key: "created_at", Value: day.Add(time.Duration(i) * time.Hour)},
			{Key: "pending_subs", Value: bson.A{}},
		}))
	}
	if err := c.Load(docs); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFind(t *testing.T) {
	newest := bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
	tests := []struct {
		name        string
		filter      bson.D
		sort        bson.D
		skip, limit int64
		want        []string
		total       int
	}{
		{"all, natural order", bson.D{}, nil, 0, 0, []string{"t0", "t1", "t2", "t3", "t4"}, 5},
		{"by indexed field, newest first", bson.D{{Key: "status", Value: "open"}}, newest, 0, 0, []string{"t3", "t1", "t0"}, 3},
		{"page of a list", bson.D{{Key: "status", Value: "open"}}, newest, 1, 1, []string{"t1"}, 3},
		{"two indexed fields", bson.D{{Key: "buyer_id", Value: "b1"}, {Key: "status", Value: bson.D{{Key: "$ne", Value: "deleted"}}}}, nil, 0, 0, []string{"t0", "t2", "t3"}, 3},
		{"available", bson.D{{Key: "status", Value: "open"}, {Key: "required_workers", Value: bson.D{{Key: "$gt", Value: 0}}}}, nil, 0, 0, []string{"t0", "t3"}, 2},
		{"by _id", bson.D{{Key: "_id", Value: "t2"}}, nil, 0, 0, []string{"t2"}, 1},
		{"by _id, other conditions fail", bson.D{{Key: "_id", Value: "t2"}, {Key: "status", Value: "open"}}, nil, 0, 0, []string{}, 0},
		{"_id $in, natural order", bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"t4", "t1", "nope"}}}}}, nil, 0, 0, []string{"t1", "t4"}, 2},
		{"$in on an indexed field", bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{"expired", "deleted"}}}}}, nil, 0, 0, []string{"t2", "t4"}, 2},
		{"$or", bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "status", Value: "expired"}}, bson.D{{Key: "buyer_id", Value: "b2"}}}}}, nil, 0, 0, []string{"t1", "t2", "t4"}, 3},
		{"empty array", bson.D{{Key: "pending_subs", Value: bson.D{{Key: "$size", Value: 0}}}, {Key: "status", Value: "deleted"}}, nil, 0, 0, []string{"t4"}, 1},
		{"skip past the end", bson.D{}, newest, 10, 5, []string{}, 5},
		{"limit keeps the best", bson.D{}, bson.D{{Key: "required_workers", Value: -1}, {Key: "_id", Value: 1}}, 0, 1, []string{"t0"}, 5},
	}
	for _, hashName := range []string{"hash", "one hash for all"} {
		var hash func(string) uint64
		if hashName != "hash" {
			hash = func(string) uint64 { return 7 } // every key collides
		}
		c := tasks(t, hash)
		for _, tt := range tests {
			t.Run(hashName+"/"+tt.name, func(t *testing.T) {
				var s bson.Raw
				if tt.sort != nil {
					s = raw(t, tt.sort)
				}
				got, total, err := c.Find(Query{Filter: raw(t, tt.filter), Sort: s, Skip: tt.skip, Limit: tt.limit})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, idsOf(got)); diff != "" || total != tt.total {
					t.Errorf("Find() total %d, want %d; ids (-want +got):\n%s", total, tt.total, diff)
				}
			})
		}
	}
}

func TestUnsupportedIsAnError(t *testing.T) {
	c := tasks(t, nil)
	for _, f := range []bson.D{
		{{Key: "buyer.id", Value: "b1"}},
		{{Key: "status", Value: bson.D{{Key: "$elemMatch", Value: bson.D{}}}}},
		{{Key: "$expr", Value: bson.D{}}},
		{{Key: "pending_subs", Value: bson.A{"x"}}},
	} {
		if _, _, err := c.Find(Query{Filter: raw(t, f)}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Find(%v) error = %v, want ErrUnsupported", f, err)
		}
	}
	if _, _, err := c.PlanUpdate(raw(t, bson.D{}), raw(t, bson.D{{Key: "$push", Value: bson.D{{Key: "a", Value: bson.D{{Key: "$each", Value: bson.A{1}}, {Key: "$slice", Value: -1}}}}}}), false, false); !errors.Is(err, ErrUnsupported) {
		t.Errorf("$push with $slice: error = %v, want ErrUnsupported", err)
	}
}

// TestWritesKeepIndexes changes, adds and removes documents and checks that
// the hash indexes and the _id lookup follow, also when every key collides
// and when removals compact the copy.
func TestWritesKeepIndexes(t *testing.T) {
	for _, hashName := range []string{"hash", "one hash for all"} {
		t.Run(hashName, func(t *testing.T) {
			var hash func(string) uint64
			if hashName != "hash" {
				hash = func(string) uint64 { return 7 }
			}
			c := tasks(t, hash)
			find := func(f bson.D) []string {
				t.Helper()
				got, _, err := c.Find(Query{Filter: raw(t, f)})
				if err != nil {
					t.Fatal(err)
				}
				return idsOf(got)
			}
			find(bson.D{{Key: "status", Value: "open"}}) // builds the status index
			plan := func(filter, update bson.D, upsert, many bool) {
				t.Helper()
				changes, _, err := c.PlanUpdate(raw(t, filter), raw(t, update), upsert, many)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Commit(changes); err != nil {
					t.Fatal(err)
				}
			}
			plan(bson.D{{Key: "_id", Value: "t0"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: "expired"}}}}, false, false)
			plan(bson.D{{Key: "buyer_id", Value: "b2"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: "open"}}}}, false, true)
			plan(bson.D{{Key: "_id", Value: "t9"}}, bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "status", Value: "open"}}}}, true, false)
			if got, want := find(bson.D{{Key: "status", Value: "open"}}), []string{"t1", "t3", "t4", "t9"}; !slices.Equal(got, want) {
				t.Errorf("open after updates = %v, want %v", got, want)
			}
			for i := range 40 { // enough removals to compact
				id := fmt.Sprintf("x%d", i)
				changes, _ := c.PlanInsert([]bson.Raw{raw(t, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: "open"}})})
				if err := c.Commit(changes); err != nil {
					t.Fatal(err)
				}
				changes, err := c.PlanDelete(raw(t, bson.D{{Key: "_id", Value: id}}), false)
				if err != nil || len(changes) != 1 {
					t.Fatalf("PlanDelete(%s) = %v, %v", id, changes, err)
				}
				if err := c.Commit(changes); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := find(bson.D{{Key: "status", Value: "open"}}), []string{"t1", "t3", "t4", "t9"}; !slices.Equal(got, want) {
				t.Errorf("open after inserts and removals = %v, want %v", got, want)
			}
			for _, id := range []string{"t0", "t9", "t4"} {
				if d, ok := c.Get(rawValue(id)); !ok || d.Lookup("_id").StringValue() != id {
					t.Errorf("Get(%s) = %v, %v", id, d, ok)
				}
			}
			if _, ok := c.Get(rawValue("x3")); ok {
				t.Errorf("Get(x3) found a removed document")
			}
			if n, _ := c.Stats(); n != 6 {
				t.Errorf("Stats() = %d documents, want 6", n)
			}
		})
	}
}

// TestCommitRefusesAStalePlan: a plan made before another write committed
// must not be applied over it.
func TestCommitRefusesAStalePlan(t *testing.T) {
	c := tasks(t, nil)
	inc := raw(t, bson.D{{Key: "$inc", Value: bson.D{{Key: "required_workers", Value: int64(-1)}}}})
	first, _, _ := c.PlanUpdate(raw(t, bson.D{{Key: "_id", Value: "t0"}}), inc, false, false)
	second, _, _ := c.PlanUpdate(raw(t, bson.D{{Key: "_id", Value: "t0"}}), inc, false, false)
	if err := c.Commit(first); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(second); !errors.Is(err, ErrStale) {
		t.Errorf("Commit() of a stale plan error = %v, want ErrStale", err)
	}
	changes, _ := c.PlanInsert([]bson.Raw{raw(t, bson.D{{Key: "_id", Value: "t1"}})})
	if err := c.Commit(changes); !errors.Is(err, ErrStale) {
		t.Errorf("Commit() of an insert over an existing _id error = %v, want ErrStale", err)
	}
}

func TestSum(t *testing.T) {
	c := tasks(t, nil)
	got, err := c.Sum(raw(t, bson.D{{Key: "buyer_id", Value: "b1"}}), "required_workers")
	if err != nil || got != 4 {
		t.Errorf("Sum() = %d, %v; want 4", got, err)
	}
}

// TestFieldsReadInOneWalk: a filter naming several fields (read in one
// walk along the document) matches as one naming few (a lookup each):
// nested in $or, $and and $nor, a field missing, a field named twice, and
// a document holding a key twice, where the first counts.
func TestFieldsReadInOneWalk(t *testing.T) {
	doc := raw(t, bson.D{{Key: "a", Value: int64(1)}, {Key: "b", Value: "x"}, {Key: "c", Value: bson.A{"p", "q"}},
		{Key: "a", Value: int64(9)}, {Key: "d", Value: true}})
	tests := []struct {
		name   string
		filter bson.D
		want   bool
	}{
		{"all hold", bson.D{{Key: "a", Value: int64(1)}, {Key: "b", Value: "x"}, {Key: "c", Value: "q"}}, true},
		{"the first of a key twice", bson.D{{Key: "a", Value: int64(9)}, {Key: "b", Value: "x"}, {Key: "d", Value: true}}, false},
		{"a field missing", bson.D{{Key: "a", Value: int64(1)}, {Key: "b", Value: "x"}, {Key: "e", Value: bson.D{{Key: "$exists", Value: false}}}}, true},
		{"a field missing, asked for", bson.D{{Key: "a", Value: int64(1)}, {Key: "b", Value: "x"}, {Key: "e", Value: "y"}}, false},
		{"in $or", bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "e", Value: 1}}, bson.D{{Key: "c", Value: bson.D{{Key: "$size", Value: 2}}}}}},
			{Key: "d", Value: true}}, true},
		{"in $and, a field named twice", bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "a", Value: bson.D{{Key: "$gte", Value: 1}}}},
			bson.D{{Key: "a", Value: bson.D{{Key: "$lt", Value: 2}}}}, bson.D{{Key: "b", Value: "x"}}}}, {Key: "d", Value: true}}, true},
		{"in $nor", bson.D{{Key: "$nor", Value: bson.A{bson.D{{Key: "b", Value: "x"}}, bson.D{{Key: "c", Value: "z"}}}}, {Key: "d", Value: true}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(raw(t, tt.filter))
			if err != nil {
				t.Fatal(err)
			}
			if f.vals == nil {
				t.Fatalf("filter of %d fields not read in one walk", len(f.slots))
			}
			for range 2 { // the buffer is reused
				if got := f.Match(doc); got != tt.want {
					t.Errorf("Match() = %v, want %v", got, tt.want)
				}
			}
			// The same filter, each field looked up.
			f.vals, f.slots = nil, nil
			if got := f.Match(doc); got != tt.want {
				t.Errorf("Match() by lookups = %v, want %v", got, tt.want)
			}
		})
	}
}
