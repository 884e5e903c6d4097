package storage

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// migrationStep returns the Go migration step called name, nil if none.
func (d *DB) migrationStep(name string) func(context.Context) error {
	switch name {
	case "mergeTransferRecords":
		return d.mergeTransferRecords
	}
	return nil
}

// mergeTransferRecords folds the ledger's former three records of a
// transfer into its one transfers document: the permanent journal record
// (transfers: postings and meta), the record in flight (transfer_runs: state,
// lease, private data) and the outcome (transfer_outcomes: final state).
// Then it drops those collections and the entries, which the posted
// transfers now are. Each document is only touched while it has no state, so
// the step is safe to repeat.
func (d *DB) mergeTransferRecords(ctx context.Context) error {
	transfers := d.collection("transfers")
	noState := bson.D{{Key: "$exists", Value: false}}
	var ended []struct {
		ID      string    `bson:"_id"`
		State   string    `bson:"state"`
		EndedAt time.Time `bson:"ended_at"`
	}
	if err := each(ctx, d.collection("transfer_outcomes"), bson.D{}, query{}, func(o struct {
		ID      string    `bson:"_id"`
		State   string    `bson:"state"`
		EndedAt time.Time `bson:"ended_at"`
	}) error {
		ended = append(ended, o)
		return nil
	}); err != nil {
		return err
	}
	for _, o := range ended {
		if _, err := transfers.updateOne(ctx, bson.D{{Key: "_id", Value: o.ID}, {Key: "state", Value: noState}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: o.State}, {Key: "updated_at", Value: o.EndedAt}}}}, false); err != nil {
			return fmt.Errorf("outcome of %s: %w", o.ID, err)
		}
	}
	// A run is a transfer in flight; one that was never journaled has only
	// its run.
	var runs []transferDoc
	if err := each(ctx, d.collection("transfer_runs"), bson.D{}, query{}, func(r transferDoc) error {
		runs = append(runs, r)
		return nil
	}); err != nil {
		return err
	}
	for _, r := range runs {
		set := bson.D{
			{Key: "postings", Value: r.Postings}, {Key: "hooked", Value: r.Hooked}, {Key: "state", Value: r.State},
			{Key: "lease_until", Value: r.LeaseUntil}, {Key: "created_at", Value: r.CreatedAt}, {Key: "updated_at", Value: r.UpdatedAt},
		}
		if r.Meta != nil {
			set = append(set, bson.E{Key: "meta", Value: r.Meta})
		}
		if r.Private != nil {
			set = append(set, bson.E{Key: "private", Value: r.Private})
		}
		if _, err := transfers.updateOne(ctx, bson.D{{Key: "_id", Value: r.ID}, {Key: "state", Value: noState}},
			bson.D{{Key: "$set", Value: set}}, true); err != nil && !isDuplicate(err) {
			return fmt.Errorf("run of %s: %w", r.ID, err)
		}
	}
	for _, name := range []string{"transfer_outcomes", "transfer_runs", "entries"} {
		if err := d.dropCollection(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// dropCollection drops a collection and its in-memory copy.
func (d *DB) dropCollection(ctx context.Context, name string) error {
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if d.copies != nil {
		d.copies.of(name).drop()
	}
	if d.embedded != nil {
		d.embedded.indexed.Delete(d.db.Name() + "\x00" + name)
	}
	if err := d.db.Collection(name).Drop(ctx); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return nil
}
