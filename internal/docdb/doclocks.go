package docdb

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// docLocks serializes FerretDB's writes per document rather than per
// process: the test mode that makes the embedded database behave as MongoDB
// does (WithPerDocumentLocks). FerretDB v1 can lose one of two concurrent
// updates of one document; with a lock per document, each single-document
// write is atomic, as on MongoDB, while writes to different documents run
// side by side, as on MongoDB. A write whose documents are not known by _id
// (UpdateMany by another field, a command) holds its whole collection.
type docLocks struct {
	mu    sync.Mutex
	colls map[string]*collectionLocks
}

type collectionLocks struct {
	whole sync.RWMutex // shared by single-document writes, held alone by whole-collection ones
	mu    sync.Mutex
	docs  map[string]*docLock
}

type docLock struct {
	sync.Mutex
	users int // writers holding or waiting for it; at 0 it is forgotten
}

func newDocLocks() *docLocks { return &docLocks{colls: map[string]*collectionLocks{}} }

func (l *docLocks) collection(name string) *collectionLocks {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.colls[name]
	if c == nil {
		c = &collectionLocks{docs: map[string]*docLock{}}
		l.colls[name] = c
	}
	return c
}

// lock takes the locks of a write to the documents ids of collection coll,
// or to the whole collection when ids is nil. Documents are locked in one
// order, so that two writes never wait for each other.
func (l *docLocks) lock(_ context.Context, coll string, ids []any) (unlock func(), err error) {
	c := l.collection(coll)
	if ids == nil {
		c.whole.Lock()
		return c.whole.Unlock, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		if rv, ok := id.(bson.RawValue); ok { // an inserted document's _id
			switch rv.Type {
			case bson.TypeString:
				id = rv.StringValue()
			case bson.TypeObjectID:
				id = rv.ObjectID()
			}
		}
		keys[i] = fmt.Sprintf("%T:%v", id, id)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	c.whole.RLock()
	held := make([]*docLock, len(keys))
	for i, k := range keys {
		c.mu.Lock()
		d := c.docs[k]
		if d == nil {
			d = &docLock{}
			c.docs[k] = d
		}
		d.users++
		c.mu.Unlock()
		d.Lock()
		held[i] = d
	}
	return func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].Unlock()
			c.mu.Lock()
			if held[i].users--; held[i].users == 0 {
				delete(c.docs, keys[i])
			}
			c.mu.Unlock()
		}
		c.whole.RUnlock()
	}, nil
}

// idsOf returns the _id values a filter names ({_id: x} or
// {_id: {$in: [...]}} first), nil if it names none.
func idsOf(filter bson.D) []any {
	if len(filter) == 0 || filter[0].Key != "_id" {
		return nil
	}
	switch v := filter[0].Value.(type) {
	case string, bson.ObjectID:
		return []any{v}
	case bson.D:
		if len(v) != 1 || v[0].Key != "$in" {
			return nil
		}
		switch in := v[0].Value.(type) {
		case []string:
			out := make([]any, len(in))
			for i, s := range in {
				out[i] = s
			}
			return out
		case bson.A:
			return in
		}
	}
	return nil
}
