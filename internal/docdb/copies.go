package docdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"microtask/internal/docdb/mirror"
)

// registry holds the in-memory copies of every database on one embedded
// server, so that every DB handle on a database (Sibling) shares them.
type registry struct {
	mu  sync.Mutex
	dbs map[string]*copies
}

func newRegistry() *registry { return &registry{dbs: map[string]*copies{}} }

func (r *registry) of(database string) *copies {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.dbs[database]
	if c == nil {
		c = &copies{registry: r, cols: map[string]*copyOf{}}
		r.dbs[database] = c
	}
	return c
}

func (r *registry) forget(database string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.dbs[database]; c != nil {
		c.mu.Lock()
		for _, col := range c.cols {
			col.drop()
		}
		c.mu.Unlock()
	}
	delete(r.dbs, database)
}

// copies are the in-memory copies of one database's collections.
type copies struct {
	registry *registry
	mu       sync.Mutex
	cols     map[string]*copyOf
}

func (c *copies) of(collection string) *copyOf {
	c.mu.Lock()
	defer c.mu.Unlock()
	col := c.cols[collection]
	if col == nil {
		col = &copyOf{}
		c.cols[collection] = col
	}
	return col
}

// copyOf is the copy of one collection, loaded when first used. It goes back
// to unloaded when a write ends in a way that leaves unknown what the
// database holds, or when the collection's indexes change.
type copyOf struct {
	mu sync.Mutex
	m  *mirror.Collection
}

func (c *copyOf) current() *mirror.Collection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m
}

func (c *copyOf) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

// loadedCopy returns the collection's copy, loading it from the database
// first if need be. The caller holds the gate, so no write runs meanwhile.
func (c Collection) loadedCopy(ctx context.Context) (*mirror.Collection, error) {
	c.copy.mu.Lock()
	defer c.copy.mu.Unlock()
	if c.copy.m != nil {
		return c.copy.m, nil
	}
	m, err := loadCopy(ctx, c.c)
	if err != nil {
		return nil, fmt.Errorf("load %s into memory: %w", c.c.Name(), err)
	}
	c.copy.m = m
	return m, nil
}

// readCopy returns the copy to answer a read from, loading it under the
// gate if need be.
func (c Collection) readCopy(ctx context.Context) (*mirror.Collection, error) {
	if m := c.copy.current(); m != nil {
		return m, nil
	}
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	return c.loadedCopy(ctx)
}

// loadCopy reads a whole collection, in the database's natural order, and
// the fields its indexes lead with.
func loadCopy(ctx context.Context, c *mongo.Collection) (*mirror.Collection, error) {
	fields, err := leadingIndexFields(ctx, c)
	if err != nil {
		return nil, err
	}
	// Larger batches than the driver's default save a third of the time
	// FerretDB takes to send a collection.
	cur, err := c.Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	// The documents are copied into shared chunks rather than one allocation
	// each: the copy then weighs what the BSON does.
	var docs []bson.Raw
	var chunk []byte
	for cur.Next(ctx) {
		n := len(cur.Current)
		if cap(chunk)-len(chunk) < n {
			chunk = make([]byte, 0, max(64<<10, n))
		}
		start := len(chunk)
		chunk = append(chunk, cur.Current...)
		docs = append(docs, bson.Raw(chunk[start:len(chunk):len(chunk)]))
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	m := mirror.New(fields)
	return m, m.Load(docs)
}

func leadingIndexFields(ctx context.Context, c *mongo.Collection) ([]string, error) {
	cur, err := c.Indexes().List(ctx)
	var ce mongo.CommandError
	if errors.As(err, &ce) && ce.Code == 26 { // NamespaceNotFound: no collection yet
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var fields []string
	for cur.Next(ctx) {
		elems, err := cur.Current.Lookup("key").Document().Elements()
		if err != nil || len(elems) == 0 {
			continue
		}
		fields = append(fields, elems[0].Key())
	}
	return fields, cur.Err()
}

// Warm loads the in-memory copy of every collection of the database, so that
// the first requests do not wait for it, and logs what it holds. It loads
// the collections side by side, under the gate for the whole time. It does
// nothing on a DB that reads from the server.
func (d *DB) Warm(ctx context.Context, log *slog.Logger) error {
	if d.copies == nil {
		return nil
	}
	start := time.Now()
	names, err := d.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("list collections: %w", err)
	}
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	loaded := make([]*mirror.Collection, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				loaded[i], errs[i] = d.Collection(names[i]).loadedCopy(ctx)
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var docs int
	var size int64
	for _, m := range loaded {
		n, b := m.Stats()
		docs += n
		size += b
	}
	log.InfoContext(ctx, "database copied into memory", "collections", len(names), "documents", docs,
		"bson_bytes", size, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}
