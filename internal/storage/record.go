package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/reputation"
)

// RecordStore keeps the records collection: one document per user with the
// counters of their track record. It implements reputation.Store.
type RecordStore struct {
	records docdb.Collection
}

// NewRecordStore returns the records store on d.
func NewRecordStore(d *docdb.DB) *RecordStore {
	return &RecordStore{records: d.Collection("records")}
}

var _ reputation.Store = (*RecordStore)(nil)

// The latest operations a record keeps, as 64-bit hashes of their ids: up
// to recentMax, cut down to the last recentKeep when full. An operation's
// settle step runs again only after a crash, once its lease (a minute) has
// expired; its addition is made once unless 128 others reached the same
// record meanwhile.
const (
	recentMax  = 256
	recentKeep = 128
)

// Counter fields of a record document.
const (
	fApproved      = "approved"
	fRejected      = "rejected"
	fRevisions     = "revisions"
	fTasksPosted   = "tasks_posted"
	fBuyerApproved = "buyer_approved"
	fBuyerRejected = "buyer_rejected"
	fLevel         = "level"
	// The mark of a record whose standing is to be worked out again
	// (reputation.Store.Changed), whether its reviewed work changed, and
	// the count of the additions that set the mark, SetLevel's guard.
	fChanged = "changed"
	fWork    = "work"
	fSeq     = "seq"
)

// starsField is the field counting the reviews of that many stars: top
// level, as the review-time histogram's.
func starsField(stars int) string { return fmt.Sprintf("stars_%d", stars) }

// reviewField is the field of a bucket of the review-time histogram: the
// in-memory copy updates top-level fields only, so no array.
func reviewField(bucket int) string { return fmt.Sprintf("review_time_%02d", bucket) }

// recordFields are the fields a record is read with: not its list of
// operations.
var recordFields = func() []string {
	f := []string{"_id", fApproved, fRejected, fRevisions, fTasksPosted, fBuyerApproved, fBuyerRejected, fLevel}
	for b := range reputation.Buckets {
		f = append(f, reviewField(b))
	}
	for n := 1; n <= reputation.MaxStars; n++ {
		f = append(f, starsField(n))
	}
	return f
}()

func opHash(op string) int64 {
	h := fnv.New64a()
	h.Write([]byte(op))
	return int64(h.Sum64())
}

func changeIncs(c reputation.Change) bson.D {
	var inc bson.D
	for _, f := range []struct {
		name string
		n    int64
	}{
		{fApproved, c.Approved}, {fRejected, c.Rejected}, {fRevisions, c.Revisions},
		{fTasksPosted, c.TasksPosted}, {fBuyerApproved, c.BuyerApproved}, {fBuyerRejected, c.BuyerRejected},
	} {
		if f.n != 0 {
			inc = append(inc, bson.E{Key: f.name, Value: f.n})
		}
	}
	if c.ReviewBucket >= 0 && c.ReviewBucket < reputation.Buckets {
		inc = append(inc, bson.E{Key: reviewField(c.ReviewBucket), Value: int64(1)})
	}
	switch {
	case c.Stars > 0 && c.Stars <= reputation.MaxStars:
		inc = append(inc, bson.E{Key: starsField(c.Stars), Value: int64(1)})
	case c.Stars < 0 && -c.Stars <= reputation.MaxStars:
		inc = append(inc, bson.E{Key: starsField(-c.Stars), Value: int64(-1)})
	}
	if c.Standing() {
		inc = append(inc, bson.E{Key: fSeq, Value: int64(1)})
	}
	return inc
}

// changeUpdate is the update that adds c, with the rest of the update's
// operators: a change of the standing marks the record (in the same write)
// for Refresh.
func changeUpdate(c reputation.Change, inc bson.D, rest ...bson.E) bson.D {
	u := append(bson.D{{Key: "$inc", Value: inc}}, rest...)
	if !c.Standing() {
		return u
	}
	mark := bson.D{{Key: fChanged, Value: true}}
	if c.Work() {
		mark = append(mark, bson.E{Key: fWork, Value: true})
	}
	for i, e := range u {
		if e.Key == "$set" {
			u[i].Value = append(e.Value.(bson.D), mark...)
			return u
		}
	}
	return append(u, bson.E{Key: "$set", Value: mark})
}

type recordOps struct {
	Recent []int64 `bson:"recent"`
	N      int64   `bson:"n_recent"`
	Trims  int64   `bson:"trims"`
}

// Add implements reputation.Store. Usually one write: an upsert that adds c
// and the operation unless the record lists it or its list is full. When
// it does not apply, the record is read: listing the operation, it was
// added before; else the list is cut down and c added in one guarded
// update.
func (s *RecordStore) Add(ctx context.Context, op, userID string, c reputation.Change) error {
	h := opHash(op)
	inc := append(changeIncs(c), bson.E{Key: "n_recent", Value: int64(1)})
	_, err := s.records.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: userID}, {Key: "recent", Value: bson.D{{Key: "$ne", Value: h}}},
			{Key: "n_recent", Value: bson.D{{Key: "$lt", Value: int64(recentMax)}}}},
		changeUpdate(c, inc, bson.E{Key: "$push", Value: bson.D{{Key: "recent", Value: h}}},
			bson.E{Key: "$setOnInsert", Value: bson.D{{Key: "trims", Value: int64(0)}}}), true)
	if err == nil || !docdb.IsDuplicate(err) { // a duplicate: the record exists and did not match
		return err
	}
	for range 5 {
		var d recordOps
		if err := s.records.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}, &d); err != nil {
			return fmt.Errorf("record of %s: %w", userID, err)
		}
		if slices.Contains(d.Recent, h) {
			return nil // added before
		}
		keep := append(slices.Clone(d.Recent[max(0, len(d.Recent)-recentKeep):]), h)
		n, err := s.records.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: userID}, {Key: "n_recent", Value: d.N}, {Key: "trims", Value: d.Trims},
				{Key: "recent", Value: bson.D{{Key: "$ne", Value: h}}}},
			changeUpdate(c, append(changeIncs(c), bson.E{Key: "trims", Value: int64(1)}),
				bson.E{Key: "$set", Value: bson.D{{Key: "recent", Value: keep}, {Key: "n_recent", Value: int64(len(keep))}}}), false)
		if err != nil || n == 1 {
			return err
		}
	}
	return errors.New("record changed too often to add to; retried")
}

func recordFromRaw(raw bson.Raw) reputation.Record {
	num := func(name string) int64 {
		v, err := raw.LookupErr(name)
		if err != nil {
			return 0
		}
		if n, ok := v.AsInt64OK(); ok {
			return n
		}
		return 0
	}
	id, _ := raw.Lookup("_id").StringValueOK()
	r := reputation.Record{
		UserID: id, Approved: num(fApproved), Rejected: num(fRejected), Revisions: num(fRevisions),
		TasksPosted: num(fTasksPosted), BuyerApproved: num(fBuyerApproved), BuyerRejected: num(fBuyerRejected),
	}
	for b := range reputation.Buckets {
		r.ReviewTimes[b] = num(reviewField(b))
	}
	for n := 1; n <= reputation.MaxStars; n++ {
		r.Stars[n-1] = num(starsField(n))
	}
	r.Level = int(num(fLevel))
	return r
}

// ByIDs implements reputation.Store: one find.
func (s *RecordStore) ByIDs(ctx context.Context, ids []string) ([]reputation.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return docdb.FindAll(ctx, s.records, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		docdb.Query{Fields: recordFields}, recordFromRaw)
}

// TopApproved implements reputation.Store, from the index on approved.
func (s *RecordStore) TopApproved(ctx context.Context, limit int) ([]reputation.Record, error) {
	return docdb.FindAll(ctx, s.records, bson.D{{Key: fApproved, Value: bson.D{{Key: "$gt", Value: int64(0)}}}},
		docdb.Query{Sort: bson.D{{Key: fApproved, Value: -1}, {Key: "_id", Value: 1}}, Limit: int64(limit), Fields: recordFields}, recordFromRaw)
}

// Changed implements reputation.Store: the marked records, from the index
// on the mark.
func (s *RecordStore) Changed(ctx context.Context, limit int) ([]reputation.Changed, error) {
	return docdb.FindAll(ctx, s.records, bson.D{{Key: fChanged, Value: true}},
		docdb.Query{Limit: int64(limit), Fields: append(slices.Clone(recordFields), fSeq, fWork)},
		func(raw bson.Raw) reputation.Changed {
			c := reputation.Changed{Record: recordFromRaw(raw)}
			c.Seq, _ = raw.Lookup(fSeq).AsInt64OK()
			c.Work, _ = raw.Lookup(fWork).BooleanOK()
			return c
		})
}

// SetLevel implements reputation.Store: one update, guarded by the count
// of additions that changed the standing.
func (s *RecordStore) SetLevel(ctx context.Context, userID string, seq int64, level int) (bool, error) {
	n, err := s.records.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: fSeq, Value: seq}},
		bson.D{{Key: "$set", Value: bson.D{{Key: fLevel, Value: int64(level)}, {Key: fChanged, Value: false}, {Key: fWork, Value: false}}}}, false)
	return n == 1, err
}

// reset replaces the counters of a user's record with rec's, and its list
// of operations with ops: for migration 0020, which counts everything from
// the start.
func (s *RecordStore) reset(ctx context.Context, rec reputation.Record, ops []string) error {
	if len(ops) > recentKeep {
		ops = ops[len(ops)-recentKeep:]
	}
	recent := make([]int64, len(ops))
	for i, op := range ops {
		recent[i] = opHash(op)
	}
	set := bson.D{
		{Key: fApproved, Value: rec.Approved}, {Key: fRejected, Value: rec.Rejected}, {Key: fRevisions, Value: rec.Revisions},
		{Key: fTasksPosted, Value: rec.TasksPosted}, {Key: fBuyerApproved, Value: rec.BuyerApproved}, {Key: fBuyerRejected, Value: rec.BuyerRejected},
	}
	for b, n := range rec.ReviewTimes {
		set = append(set, bson.E{Key: reviewField(b), Value: n})
	}
	set = append(set, bson.E{Key: "recent", Value: recent}, bson.E{Key: "n_recent", Value: int64(len(recent))}, bson.E{Key: "trims", Value: int64(0)})
	_, err := s.records.UpdateOne(ctx, bson.D{{Key: "_id", Value: rec.UserID}}, bson.D{{Key: "$set", Value: set}}, true)
	return err
}
