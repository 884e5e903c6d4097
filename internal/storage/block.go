package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/block"
	"microtask/internal/docdb"
)

// BlockStore keeps the blocks collection: one document per user who ever
// blocked another, with the list. It implements block.Store.
type BlockStore struct {
	blocks docdb.Collection
}

// NewBlockStore returns the blocks store on d.
func NewBlockStore(d *docdb.DB) *BlockStore {
	return &BlockStore{blocks: d.Collection("blocks")}
}

var _ block.Store = (*BlockStore)(nil)

type blockListDoc struct {
	ID      string         `bson:"_id"` // the user who blocks
	Workers []blockedEntry `bson:"workers"`
	Version int64          `bson:"version"`
}

type blockedEntry struct {
	ID   string    `bson:"id"`
	Name string    `bson:"name"`
	At   time.Time `bson:"at"`
}

// Get implements block.Store.
func (s *BlockStore) Get(ctx context.Context, buyerID string) (block.List, error) {
	var d blockListDoc
	err := s.blocks.FindOne(ctx, bson.D{{Key: "_id", Value: buyerID}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return block.List{BuyerID: buyerID}, nil
	}
	if err != nil {
		return block.List{}, err
	}
	l := block.List{BuyerID: buyerID, Version: d.Version, Blocks: make([]block.Block, len(d.Workers))}
	for i, w := range d.Workers {
		l.Blocks[i] = block.Block{WorkerID: w.ID, WorkerName: w.Name, At: w.At}
	}
	return l, nil
}

// GetMany implements block.Store.
func (s *BlockStore) GetMany(ctx context.Context, ids []string) ([]block.List, error) {
	return docdb.FindAll(ctx, s.blocks, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, docdb.Query{},
		func(d blockListDoc) block.List {
			l := block.List{BuyerID: d.ID, Version: d.Version, Blocks: make([]block.Block, len(d.Workers))}
			for i, w := range d.Workers {
				l.Blocks[i] = block.Block{WorkerID: w.ID, WorkerName: w.Name, At: w.At}
			}
			return l
		})
}

// Save implements block.Store: the whole list is replaced, guarded by its
// version (the in-memory copy has no $pull of a document).
func (s *BlockStore) Save(ctx context.Context, l block.List) (block.List, error) {
	entries := make([]blockedEntry, len(l.Blocks))
	for i, b := range l.Blocks {
		entries[i] = blockedEntry{ID: b.WorkerID, Name: b.WorkerName, At: b.At}
	}
	next := l.Version + 1
	if l.Version == 0 {
		err := s.blocks.InsertOne(ctx, blockListDoc{ID: l.BuyerID, Workers: entries, Version: next})
		if docdb.IsDuplicate(err) {
			return block.List{}, block.ErrStale
		}
		if err != nil {
			return block.List{}, err
		}
	} else {
		n, err := s.blocks.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.BuyerID}, {Key: "version", Value: l.Version}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "workers", Value: entries}, {Key: "version", Value: next}}}}, false)
		if err != nil {
			return block.List{}, err
		}
		if n == 0 {
			return block.List{}, block.ErrStale
		}
	}
	l.Version = next
	return l, nil
}
