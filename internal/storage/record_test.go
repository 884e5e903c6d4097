package storage

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/reputation"
)

// TestRecordAddsOncePerOperation: an operation's addition to a record is
// made once however often its settle step runs, while it is among the
// record's latest operations, and the list of those stays bounded.
func TestRecordAddsOncePerOperation(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	s := NewRecordStore(db)
	approve := reputation.Change{Approved: 1, ReviewBucket: -1}
	const total = recentMax + 50 // past one cut of the list
	for i := range total {
		op := fmt.Sprintf("approve:%d", i)
		for range 2 {
			if err := s.Add(ctx, op, "w", approve); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The latest operations again: nothing changes.
	for i := total - recentKeep; i < total; i++ {
		if err := s.Add(ctx, fmt.Sprintf("approve:%d", i), "w", approve); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(ctx, "reject:x", "b", reputation.Change{BuyerRejected: 1, ReviewBucket: 3}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ByIDs(ctx, []string{"w", "b", "nobody"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("ByIDs() = %+v, %v", recs, err)
	}
	byID := map[string]reputation.Record{recs[0].UserID: recs[0], recs[1].UserID: recs[1]}
	if got := byID["w"].Approved; got != total {
		t.Errorf("approved = %d, want %d", got, total)
	}
	if got := byID["b"]; got.BuyerRejected != 1 || got.ReviewTimes[3] != 1 || got.Approved != 0 {
		t.Errorf("buyer record = %+v", got)
	}
	var ops recordOps
	if err := s.records.FindOne(ctx, bsonID("w"), &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops.Recent) > recentMax || int64(len(ops.Recent)) != ops.N {
		t.Errorf("the record lists %d operations (n_recent %d), want at most %d", len(ops.Recent), ops.N, recentMax)
	}
	top, err := s.TopApproved(ctx, 5)
	if err != nil || len(top) != 1 || top[0].UserID != "w" {
		t.Errorf("TopApproved() = %+v, %v", top, err)
	}
}

func bsonID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// TestRecordMarksStandingChanges: an addition that changes a standing (work
// reviewed, a review counted) marks the record in its one write; a level
// set from the record as read clears the mark unless another such addition
// came in between.
func TestRecordMarksStandingChanges(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	s := NewRecordStore(db)
	changed := func() map[string]reputation.Changed {
		t.Helper()
		got, err := s.Changed(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]reputation.Changed{}
		for _, c := range got {
			m[c.UserID] = c
		}
		return m
	}
	for _, c := range []struct {
		op, user string
		change   reputation.Change
	}{
		{"post:1", "b", reputation.Change{TasksPosted: 1, ReviewBucket: -1}},
		{"approve:1", "w", reputation.Change{Approved: 1, ReviewBucket: -1}},
		{"rate:1", "r", reputation.Change{Stars: 4, ReviewBucket: -1}},
	} {
		if err := s.Add(ctx, c.op, c.user, c.change); err != nil {
			t.Fatal(err)
		}
	}
	got := changed()
	if _, ok := got["b"]; ok || len(got) != 2 || !got["w"].Work || got["r"].Work || got["r"].Stars[3] != 1 {
		t.Fatalf("Changed() = %+v; want w (work) and r (rating only)", got)
	}
	if err := s.Add(ctx, "rate:2", "r", reputation.Change{Stars: 5, ReviewBucket: -1}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SetLevel(ctx, "r", got["r"].Seq, 0); err != nil || ok {
		t.Errorf("SetLevel() over a later change = %v, %v; want false", ok, err)
	}
	if ok, err := s.SetLevel(ctx, "w", got["w"].Seq, 1); err != nil || !ok {
		t.Errorf("SetLevel() = %v, %v; want true", ok, err)
	}
	got = changed()
	if _, ok := got["w"]; ok || len(got) != 1 || got["r"].Stars[4] != 1 {
		t.Errorf("Changed() = %+v; want r only, with both reviews", got)
	}
	recs, err := s.ByIDs(ctx, []string{"w"})
	if err != nil || len(recs) != 1 || recs[0].Level != 1 {
		t.Errorf("ByIDs() = %+v, %v; want level 1", recs, err)
	}
}
