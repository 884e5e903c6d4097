package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMatchesAgreesWithTheServer evaluates each filter both with matches and
// with FerretDB itself, on the same stored document: the fast path of
// collection.updateOne must decide exactly as the server would.
func TestMatchesAgreesWithTheServer(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	c := db.db.Collection("match")
	when := time.Date(2026, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	doc := bson.D{
		{Key: "_id", Value: "acct"},
		{Key: "balance", Value: int64(50)},
		{Key: "small", Value: int32(7)},
		{Key: "ratio", Value: 2.5},
		{Key: "state", Value: "pending"},
		{Key: "open", Value: true},
		{Key: "pending", Value: bson.A{"op:1", "op:2"}},
		{Key: "empty", Value: bson.A{}},
		{Key: "lease_until", Value: when},
		{Key: "nothing", Value: nil},
		{Key: "buyer", Value: bson.D{{Key: "id", Value: "u1"}, {Key: "name", Value: "Ann"}}},
	}
	if _, err := c.InsertOne(ctx, doc); err != nil {
		t.Fatal(err)
	}
	var stored bson.D
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "acct"}}).Decode(&stored); err != nil {
		t.Fatal(err)
	}

	conds := []bson.D{
		{{Key: "balance", Value: int64(50)}},
		{{Key: "balance", Value: 50}},
		{{Key: "balance", Value: 50.0}},
		{{Key: "balance", Value: int64(49)}},
		{{Key: "balance", Value: bson.D{{Key: "$gte", Value: int64(50)}}}},
		{{Key: "balance", Value: bson.D{{Key: "$gte", Value: int64(51)}}}},
		{{Key: "balance", Value: bson.D{{Key: "$gt", Value: 49.5}}}},
		{{Key: "balance", Value: bson.D{{Key: "$lt", Value: int64(50)}}}},
		{{Key: "balance", Value: bson.D{{Key: "$lte", Value: int64(50)}, {Key: "$gt", Value: int64(10)}}}},
		{{Key: "balance", Value: bson.D{{Key: "$gte", Value: "50"}}}},
		{{Key: "balance", Value: bson.D{{Key: "$ne", Value: "50"}}}},
		{{Key: "small", Value: int64(7)}},
		{{Key: "small", Value: bson.D{{Key: "$gt", Value: int64(6)}}}},
		{{Key: "ratio", Value: bson.D{{Key: "$lt", Value: int64(3)}}}},
		{{Key: "state", Value: "pending"}},
		{{Key: "state", Value: "posted"}},
		{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{"posted", "pending"}}}}},
		{{Key: "state", Value: bson.D{{Key: "$in", Value: []string{"posted", "failed"}}}}},
		{{Key: "state", Value: bson.D{{Key: "$nin", Value: bson.A{"posted"}}}}},
		{{Key: "state", Value: bson.D{{Key: "$gt", Value: "p"}}}},
		{{Key: "open", Value: true}},
		{{Key: "open", Value: false}},
		{{Key: "pending", Value: "op:2"}},
		{{Key: "pending", Value: "op:3"}},
		{{Key: "pending", Value: bson.D{{Key: "$ne", Value: "op:1"}}}},
		{{Key: "pending", Value: bson.D{{Key: "$ne", Value: "op:3"}}}},
		{{Key: "empty", Value: bson.D{{Key: "$ne", Value: "op:1"}}}},
		{{Key: "missing", Value: bson.D{{Key: "$ne", Value: "op:1"}}}},
		{{Key: "missing", Value: nil}},
		{{Key: "nothing", Value: nil}},
		{{Key: "state", Value: nil}},
		{{Key: "missing", Value: bson.D{{Key: "$exists", Value: false}}}},
		{{Key: "state", Value: bson.D{{Key: "$exists", Value: true}}}},
		{{Key: "missing", Value: bson.D{{Key: "$gte", Value: int64(0)}}}},
		{{Key: "lease_until", Value: when}},
		{{Key: "lease_until", Value: when.Add(time.Millisecond)}},
		{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: when.Add(time.Second)}}}},
		{{Key: "lease_until", Value: bson.D{{Key: "$lt", Value: when}}}},
		{{Key: "buyer.id", Value: "u1"}},
		{{Key: "buyer.id", Value: "u2"}},
		{{Key: "buyer.missing", Value: nil}},
		{{Key: "state", Value: "pending"}, {Key: "balance", Value: bson.D{{Key: "$gte", Value: int64(60)}}}},
		{{Key: "state", Value: "pending"}, {Key: "open", Value: true}, {Key: "pending", Value: bson.D{{Key: "$ne", Value: "op:9"}}}},
	}
	for i, cond := range conds {
		t.Run(fmt.Sprintf("%d %v", i, cond), func(t *testing.T) {
			n, err := c.CountDocuments(ctx, append(bson.D{{Key: "_id", Value: "acct"}}, cond...))
			if err != nil {
				t.Fatalf("server: %v", err)
			}
			got, err := matches(stored, cond)
			if err != nil {
				t.Fatalf("matches() error = %v", err)
			}
			if got != (n == 1) {
				t.Errorf("matches() = %v, server matched %d", got, n)
			}
		})
	}
}

func TestMatchesRefusesWhatItDoesNotKnow(t *testing.T) {
	doc := bson.D{{Key: "_id", Value: "x"}, {Key: "tags", Value: bson.A{"a"}}, {Key: "n", Value: int64(1)}}
	for _, cond := range []bson.D{
		{{Key: "$or", Value: bson.A{}}},
		{{Key: "n", Value: bson.D{{Key: "$mod", Value: bson.A{2, 1}}}}},
		{{Key: "tags", Value: bson.A{"a"}}},
		{{Key: "tags", Value: bson.D{{Key: "$gt", Value: "a"}}}},
		{{Key: "n", Value: []int{1}}},
		{{Key: "tags.0", Value: bson.D{{Key: "$exists", Value: false}}}},
		{{Key: "n.x", Value: nil}},
	} {
		if _, err := matches(doc, cond); !errors.Is(err, errUnsupportedFilter) {
			t.Errorf("matches(%v) error = %v, want errUnsupportedFilter", cond, err)
		}
	}
}

// TestUpdateOneFastPathKeepsSemantics runs conditional updates through the
// gated collection (which takes the fast path) and checks what they did.
func TestUpdateOneFastPathKeepsSemantics(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	c := db.collection("fast")
	inc := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}, {Key: "$push", Value: bson.D{{Key: "ops", Value: "a"}}}}
	guard := bson.D{{Key: "_id", Value: "d"}, {Key: "ops", Value: bson.D{{Key: "$ne", Value: "a"}}}}

	// Upsert creates the missing document with only the update's fields.
	if n, err := c.updateOne(ctx, guard, inc, true); err != nil || n != 1 {
		t.Fatalf("upsert of a missing document = %d, %v", n, err)
	}
	// The guard now fails: without upsert nothing matches...
	if n, err := c.updateOne(ctx, guard, inc, false); err != nil || n != 0 {
		t.Fatalf("guarded update = %d, %v; want 0", n, err)
	}
	// ...and with upsert the server reports the duplicate _id, as MongoDB does.
	if _, err := c.updateOne(ctx, guard, inc, true); !isDuplicate(err) {
		t.Fatalf("guarded upsert error = %v, want a duplicate key", err)
	}
	var got struct {
		N   int64    `bson:"n"`
		Ops []string `bson:"ops"`
	}
	if err := c.findOne(ctx, bson.D{{Key: "_id", Value: "d"}}, &got); err != nil {
		t.Fatal(err)
	}
	if got.N != 1 || len(got.Ops) != 1 {
		t.Errorf("document = %+v, want n 1 and one op", got)
	}
	// A filter the matcher does not know still works, through the server.
	or := bson.D{{Key: "_id", Value: "d"}, {Key: "$or", Value: bson.A{bson.D{{Key: "n", Value: int64(1)}}}}}
	if n, err := c.updateOne(ctx, or, bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}}, false); err != nil || n != 1 {
		t.Errorf("update with $or = %d, %v; want 1", n, err)
	}
}
