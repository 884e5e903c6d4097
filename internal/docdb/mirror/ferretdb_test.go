package mirror_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"microtask/internal/docdb/mirror"
	"microtask/internal/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// The property tests below run random documents, filters, sorts and updates
// of the shapes the stores use through FerretDB and through the in-memory
// copy, and require the same answers. Set MIRROR_SEED to replay a failure.

func seed(t *testing.T) *rand.Rand {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("MIRROR_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("MIRROR_SEED=%d", s)
	return rand.New(rand.NewPCG(s, s))
}

// collection returns a fresh collection on the embedded FerretDB.
func collection(t *testing.T) *mongo.Collection {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(storagetest.URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	db := client.Database(fmt.Sprintf("mirror_%d_%d", os.Getpid(), time.Now().UnixNano()))
	t.Cleanup(func() {
		ctx := context.Background()
		_ = db.Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	return db.Collection("c")
}

var (
	words = []string{"alpha", "Beta", "gamma", "delta", "ALPHA beta", ""}
	days  = []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	oids = []bson.ObjectID{{1}, {2}, {3}}
)

// randomNumber is a small number of a random numeric type.
func randomNumber(r *rand.Rand) any {
	n := r.IntN(7) - 3
	switch r.IntN(3) {
	case 0:
		return int32(n)
	case 1:
		return int64(n)
	}
	return float64(n) + []float64{0, 0.5}[r.IntN(2)]
}

// randomValue is a value for field name, sometimes of another type, null or
// missing (nil, false).
func randomValue(r *rand.Rand, name string) (any, bool) {
	switch r.IntN(12) {
	case 0:
		return nil, false
	case 1:
		return nil, true
	case 2:
		return words[r.IntN(len(words))], true // a string where a number may be expected
	}
	switch name {
	case "n", "m":
		if name == "m" {
			return int64(r.IntN(100)), true
		}
		return randomNumber(r), true
	case "s":
		return words[r.IntN(len(words))], true
	case "b":
		return r.IntN(2) == 0, true
	case "d":
		return days[r.IntN(len(days))], true
	case "o":
		return oids[r.IntN(len(oids))], true
	case "a":
		a := bson.A{}
		for range r.IntN(4) {
			a = append(a, words[r.IntN(4)])
		}
		return a, true
	}
	panic(name)
}

var fields = []string{"n", "m", "s", "b", "d", "o", "a"}

func randomDoc(r *rand.Rand, id int) bson.D {
	d := bson.D{{Key: "_id", Value: fmt.Sprintf("id%03d", id)}}
	for _, f := range fields {
		if v, ok := randomValue(r, f); ok {
			d = append(d, bson.E{Key: f, Value: v})
		}
	}
	return d
}

// randomOperand is a value to compare field name with.
func randomOperand(r *rand.Rand, name string) any {
	v, ok := randomValue(r, name)
	for !ok || name == "a" {
		if name == "a" {
			return words[r.IntN(4)]
		}
		v, ok = randomValue(r, name)
	}
	return v
}

func randomCondition(r *rand.Rand, depth int) bson.E {
	if depth < 2 && r.IntN(8) == 0 {
		op := []string{"$or", "$and", "$nor"}[r.IntN(3)]
		return bson.E{Key: op, Value: bson.A{randomFilter(r, depth+1), randomFilter(r, depth+1)}}
	}
	f := fields[r.IntN(len(fields))]
	switch r.IntN(11) {
	case 0:
		return bson.E{Key: f, Value: randomOperand(r, f)}
	case 1:
		return bson.E{Key: f, Value: bson.D{{Key: "$eq", Value: randomOperand(r, f)}}}
	case 2:
		return bson.E{Key: f, Value: bson.D{{Key: "$ne", Value: randomOperand(r, f)}}}
	case 3:
		op := []string{"$gt", "$gte", "$lt", "$lte"}[r.IntN(4)]
		v := randomOperand(r, f)
		for v == nil {
			v = randomOperand(r, f)
		}
		return bson.E{Key: f, Value: bson.D{{Key: op, Value: v}}}
	case 4:
		return bson.E{Key: f, Value: bson.D{{Key: []string{"$in", "$nin"}[r.IntN(2)], Value: bson.A{randomOperand(r, f), randomOperand(r, f)}}}}
	case 5:
		return bson.E{Key: f, Value: bson.D{{Key: "$exists", Value: r.IntN(2) == 0}}}
	case 6:
		return bson.E{Key: "a", Value: bson.D{{Key: "$size", Value: r.IntN(3)}}}
	case 7:
		return bson.E{Key: []string{"s", "a"}[r.IntN(2)], Value: bson.Regex{Pattern: []string{"alpha", "^b", "ta$", "a.p"}[r.IntN(4)], Options: []string{"", "i"}[r.IntN(2)]}}
	case 8:
		// Two conditions on one field, as the stores write ranges.
		v := randomOperand(r, f)
		for v == nil {
			v = randomOperand(r, f)
		}
		return bson.E{Key: f, Value: bson.D{{Key: "$gt", Value: v}, {Key: "$ne", Value: randomOperand(r, f)}}}
	case 9:
		return bson.E{Key: "_id", Value: fmt.Sprintf("id%03d", r.IntN(60))}
	}
	return bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{fmt.Sprintf("id%03d", r.IntN(60)), fmt.Sprintf("id%03d", r.IntN(60))}}}}
}

func randomFilter(r *rand.Rand, depth int) bson.D {
	f := bson.D{}
	for range r.IntN(3) + depth%2 {
		c := randomCondition(r, depth)
		if !slices.ContainsFunc(f, func(e bson.E) bool { return e.Key == c.Key }) {
			f = append(f, c)
		}
	}
	return f
}

func marshal(t *testing.T, v any) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ids(docs []bson.Raw) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d.Lookup("_id").StringValue())
	}
	return out
}

func load(t *testing.T, c *mongo.Collection, m *mirror.Collection) {
	t.Helper()
	cur, err := c.Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	for cur.Next(context.Background()) {
		docs = append(docs, slices.Clone(cur.Current))
	}
	if err := m.Load(docs); err != nil {
		t.Fatal(err)
	}
}

func TestQueriesAgreeWithFerretDB(t *testing.T) {
	ctx := context.Background()
	r := seed(t)
	c := collection(t)
	var docs []any
	for i := range 60 {
		docs = append(docs, randomDoc(r, i))
	}
	if _, err := c.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	m := mirror.New([]string{"_id", "n", "s", "a", "o"})
	load(t, c, m)

	for i := range 400 {
		filter := randomFilter(r, 0)
		var sort bson.D
		for range r.IntN(3) {
			f := []string{"n", "m", "s", "b", "d", "o"}[r.IntN(6)]
			if !slices.ContainsFunc(sort, func(e bson.E) bool { return e.Key == f }) {
				sort = append(sort, bson.E{Key: f, Value: []int{1, -1}[r.IntN(2)]})
			}
		}
		if len(sort) > 0 {
			// FerretDB's sort is not stable: break ties on _id to compare.
			sort = append(sort, bson.E{Key: "_id", Value: []int{1, -1}[r.IntN(2)]})
		}
		skip, limit := int64(r.IntN(3)*r.IntN(10)), int64(r.IntN(2)*r.IntN(20))
		name := fmt.Sprintf("%d filter %v sort %v skip %d limit %d", i, filter, sort, skip, limit)

		opts := options.Find().SetSkip(skip).SetLimit(limit)
		if sort != nil {
			opts.SetSort(sort)
		}
		cur, err := c.Find(ctx, filter, opts)
		if err != nil {
			t.Fatalf("%s: FerretDB: %v", name, err)
		}
		var want []bson.Raw
		for cur.Next(ctx) {
			want = append(want, slices.Clone(cur.Current))
		}
		wantTotal, err := c.CountDocuments(ctx, filter)
		if err != nil {
			t.Fatalf("%s: FerretDB count: %v", name, err)
		}

		var sortRaw bson.Raw
		if sort != nil {
			sortRaw = marshal(t, sort)
		}
		got, total, err := m.Find(mirror.Query{Filter: marshal(t, filter), Sort: sortRaw, Skip: skip, Limit: limit})
		if err != nil {
			t.Fatalf("%s: copy: %v", name, err)
		}
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Fatalf("%s: ids (-FerretDB +copy):\n%s", name, diff)
		}
		if int64(total) != wantTotal {
			t.Fatalf("%s: total = %d, FerretDB counts %d", name, total, wantTotal)
		}
		if i%10 == 0 {
			wantSum := sumOf(t, c, filter, "m")
			gotSum, err := m.Sum(marshal(t, filter), "m")
			if err != nil || gotSum != wantSum {
				t.Fatalf("%s: sum of m = %d, %v; FerretDB says %d", name, gotSum, err, wantSum)
			}
		}
	}
}

func sumOf(t *testing.T, c *mongo.Collection, filter bson.D, field string) int64 {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: filter}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "t", Value: bson.D{{Key: "$sum", Value: "$" + field}}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res []struct {
		T int64 `bson:"t"`
	}
	if err := cur.All(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		return 0
	}
	return res[0].T
}

func randomUpdate(r *rand.Rand) bson.D {
	var u bson.D
	used := map[string]bool{}
	for range 1 + r.IntN(3) {
		f := fields[r.IntN(len(fields))]
		if used[f] {
			continue
		}
		used[f] = true
		var e bson.E
		switch r.IntN(6) {
		case 0:
			e = bson.E{Key: "$set", Value: bson.D{{Key: f, Value: randomOperand(r, f)}}}
		case 1:
			e = bson.E{Key: "$unset", Value: bson.D{{Key: f, Value: ""}}}
		case 2:
			e = bson.E{Key: "$inc", Value: bson.D{{Key: "m", Value: randomNumber(r)}}}
			if used["m"] && f != "m" {
				continue
			}
			used["m"] = true
		case 3:
			e = bson.E{Key: "$push", Value: bson.D{{Key: "a", Value: words[r.IntN(4)]}}}
			if used["a"] && f != "a" {
				continue
			}
			used["a"] = true
		case 4:
			e = bson.E{Key: "$pull", Value: bson.D{{Key: "a", Value: words[r.IntN(4)]}}}
			if used["a"] && f != "a" {
				continue
			}
			used["a"] = true
		case 5:
			// FerretDB drops a null $setOnInsert (MongoDB stores it); the
			// stores never set one.
			v := randomOperand(r, f)
			for v == nil {
				v = randomOperand(r, f)
			}
			e = bson.E{Key: "$setOnInsert", Value: bson.D{{Key: f, Value: v}}}
		}
		// One entry per operator: a document with a key twice is not valid.
		if i := slices.IndexFunc(u, func(x bson.E) bool { return x.Key == e.Key }); i >= 0 {
			u[i].Value = append(u[i].Value.(bson.D), e.Value.(bson.D)...)
		} else {
			u = append(u, e)
		}
	}
	if len(u) == 0 {
		u = bson.D{{Key: "$set", Value: bson.D{{Key: "s", Value: "x"}}}}
	}
	return u
}

func TestUpdatesAgreeWithFerretDB(t *testing.T) {
	ctx := context.Background()
	r := seed(t)
	c := collection(t)
	var docs []any
	for i := range 40 {
		// Numeric and array fields of the types an update accepts.
		d := randomDoc(r, i)
		d = slices.DeleteFunc(d, func(e bson.E) bool { return e.Key == "m" || e.Key == "a" })
		d = append(d, bson.E{Key: "m", Value: randomNumber(r)}, bson.E{Key: "a", Value: bson.A{"alpha", "Beta"}})
		docs = append(docs, d)
	}
	if _, err := c.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	m := mirror.New([]string{"_id", "s"})
	load(t, c, m)

	for i := range 300 {
		var filter bson.D
		upsert := r.IntN(4) == 0
		id := fmt.Sprintf("id%03d", r.IntN(50))
		switch r.IntN(3) {
		case 0:
			filter = bson.D{{Key: "_id", Value: id}}
		case 1:
			// FerretDB copies operator documents of an upsert's filter into
			// the new document (MongoDB copies only equalities); the stores'
			// upserts filter on _id and $ne.
			filter = bson.D{{Key: "_id", Value: id}, randomCondition(r, 2)}
			upsert = false
		default:
			filter = bson.D{{Key: "_id", Value: id}, {Key: "a", Value: bson.D{{Key: "$ne", Value: words[r.IntN(4)]}}}}
		}
		update := randomUpdate(r)
		name := fmt.Sprintf("%d updateOne(%v, %v, upsert %v)", i, filter, update, upsert)

		changes, matched, planErr := m.PlanUpdate(marshal(t, filter), marshal(t, update), upsert, false)
		res, err := c.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(upsert))
		if (err != nil) != (planErr != nil) {
			// An upsert over a taken _id is refused by the database only.
			if !(planErr == nil && mongo.IsDuplicateKeyError(err) && len(changes) == 1 && changes[0].Old == nil) {
				t.Fatalf("%s: FerretDB error %v, copy error %v", name, err, planErr)
			}
			continue
		}
		if err != nil {
			continue
		}
		if int64(matched) != res.MatchedCount {
			t.Fatalf("%s: matched %d, FerretDB matched %d", name, matched, res.MatchedCount)
		}
		for _, ch := range changes {
			var want bson.Raw
			if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: ch.ID}}).Decode(&want); err != nil {
				t.Fatalf("%s: read back: %v", name, err)
			}
			if ch.Old == nil && ch.New.Lookup("_id").Type == bson.TypeObjectID {
				continue // generated ids differ
			}
			if diff := cmp.Diff(fieldsOf(t, want), fieldsOf(t, ch.New)); diff != "" {
				t.Fatalf("%s: document (-FerretDB +copy):\n%s", name, diff)
			}
		}
		if err := m.Commit(changes); err != nil {
			t.Fatalf("%s: commit: %v", name, err)
		}
		if i%25 == 0 {
			sameCollection(t, c, m, name)
		}
	}
	sameCollection(t, c, m, "at the end")
}

// sameCollection requires every document of the copy to be the one the
// database holds, and in the same natural order.
func sameCollection(t *testing.T, c *mongo.Collection, m *mirror.Collection, when string) {
	t.Helper()
	ctx := context.Background()
	cur, err := c.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]string
	for cur.Next(ctx) {
		want = append(want, fieldsOf(t, cur.Current))
	}
	docs, _, err := m.Find(mirror.Query{Filter: marshal(t, bson.D{})})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, d := range docs {
		got = append(got, fieldsOf(t, d))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: collection (-FerretDB +copy):\n%s", when, diff)
	}
}

// fieldsOf lists a document's fields in order with their types and values.
func fieldsOf(t *testing.T, d bson.Raw) []string {
	t.Helper()
	elems, err := d.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range elems {
		out = append(out, fmt.Sprintf("%s %s %s", e.Key(), e.Value().Type, e.Value()))
	}
	return out
}
