package docdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb/mirror"
)

// memDB is the embedded database: every collection in memory, where every
// read is answered (package mirror), and a file that makes every write
// durable (fileStore). It is the only writer of its file.
//
// A write is planned on the copy under the write gate (which documents it
// touches and what they become, as MongoDB evaluates it), checked against
// the _id and the unique indexes, applied to the copy, and staged in the
// batch being filled; the gate is then free for the next write, having been
// held for the time it takes to compute a few documents. One committer
// writes each batch to the file in one transaction and acknowledges all its
// writes together (group commit), so that a commit, and its wait for the
// disk, is paid per batch rather than per write: while a batch is being
// written, the writes that arrive fill the next.
//
// A write is acknowledged once its batch is on disk, or, in a Deferred
// context (an operation's run), once staged, the run's flush waiting for the
// disk once at its end. Either way batches reach the disk in the order they
// were filled, so the order of each operation's steps is the order on disk,
// and a crash keeps a prefix of them. A reader may see a write a moment
// before it is durable (as MongoDB's "local" read concern does). When a
// batch fails to commit (a full disk), the copy goes back to what the file
// holds, the writes of that batch and of the batch staged on top of it
// answer the error, and a Deferred run that had a write in them may not
// write on.
type memDB struct {
	name     string
	file     *fileStore
	gate     gate
	health   *health
	observer Observer
	log      *slog.Logger

	mu   sync.Mutex // guards cols, the map; the collections are the gate's
	cols map[string]*memCollection

	batch     *batch        // being filled, under the gate
	closed    bool          // under the gate: no more writes
	epoch     int64         // under the gate: failed commits so far (see Deferred)
	kick      chan struct{} // a batch is waiting (buffered: one is enough)
	stop      chan struct{} // closed by close
	committed chan struct{} // closed when the committer has ended
	closeOnce sync.Once

	failCommit func() error // tests: a commit's failure, before it writes
}

// memCollection is one collection of a memDB.
type memCollection struct {
	name string
	m    atomic.Pointer[mirror.Collection]

	// Under the gate:
	specs  []indexSpec
	stored bool // the file lists the collection
}

// batch is the writes staged for one commit.
type batch struct {
	ops  []fileOp
	done chan struct{} // closed once committed, or failed (err)
	err  error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

func openMemDB(ctx context.Context, path, name string, h *health, obs Observer, log *slog.Logger) (*memDB, error) {
	if obs == nil {
		obs = noObserver{}
	}
	file, err := openFileStore(ctx, path)
	if err != nil {
		return nil, err
	}
	d := &memDB{name: name, file: file, gate: newGate(obs), observer: obs, health: h, log: log,
		batch: newBatch(), kick: make(chan struct{}, 1), stop: make(chan struct{}), committed: make(chan struct{})}
	if err := d.reload(ctx); err != nil {
		file.close()
		return nil, err
	}
	go d.commitLoop()
	return d, nil
}

// reload replaces every collection in memory by what the file holds. The
// caller holds the gate, or no write can run yet.
func (d *memDB) reload(ctx context.Context) error {
	stored, err := d.file.load(ctx)
	if err != nil {
		return fmt.Errorf("load %s: %w", d.file.path, err)
	}
	cols := map[string]*memCollection{}
	for name, sc := range stored {
		m := mirror.New(leadingFields(sc.indexes))
		if err := m.Load(sc.docs); err != nil {
			return fmt.Errorf("load %s.%s: %w", d.name, name, err)
		}
		mc := &memCollection{name: name, specs: sc.indexes, stored: true}
		mc.m.Store(m)
		cols[name] = mc
	}
	d.mu.Lock()
	d.cols = cols
	d.mu.Unlock()
	return nil
}

// collection returns the collection called name, empty if new.
func (d *memDB) collection(name string) *memCollection {
	d.mu.Lock()
	defer d.mu.Unlock()
	mc := d.cols[name]
	if mc == nil {
		mc = &memCollection{name: name}
		mc.m.Store(mirror.New(nil))
		d.cols[name] = mc
	}
	return mc
}

// names lists the collections the file holds or a write has created.
func (d *memDB) names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for name, mc := range d.cols {
		if mc.stored {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

var errClosed = errors.New("the embedded database is closed")

// deferred is a run of writes answered as soon as they are staged (see
// DB.Deferred).
type deferred struct {
	db    *memDB
	epoch int64 // the database's failed commits when the run began

	mu   sync.Mutex
	last *batch // the batch of its latest write
}

func (ds *deferred) latest() *batch {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	return ds.last
}

type deferredKey struct{}

func deferredFrom(ctx context.Context) *deferred {
	ds, _ := ctx.Value(deferredKey{}).(*deferred)
	return ds
}

// err is why a run's writes were lost: its latest batch's error.
func (ds *deferred) err() error {
	last := ds.latest()
	if last == nil {
		return nil
	}
	select {
	case <-last.done:
		return last.err
	default:
		return nil
	}
}

// flush waits until every write of the run is on disk, and says if one of
// them is not.
func (ds *deferred) flush() error {
	last := ds.latest()
	if last == nil {
		return nil
	}
	timer := time.NewTimer(commandTimeout)
	defer timer.Stop()
	select {
	case <-last.done:
	case <-timer.C:
		return &unavailable{reason: fmt.Sprintf("a write was not on disk within %s", commandTimeout)}
	}
	if last.err != nil {
		return last.err
	}
	leave := ds.db.enterGate()
	lost := ds.db.epoch != ds.epoch
	leave()
	if lost {
		return &unavailable{reason: "an earlier write of this operation was not written"}
	}
	return nil
}

// stats says how many collections and documents the database holds in
// memory, and their size in BSON.
func (d *memDB) stats() (cols, docs int, size int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, mc := range d.cols {
		n, b := mc.m.Load().Stats()
		cols, docs, size = cols+1, docs+n, size+b
	}
	return cols, docs, size
}

// planFunc computes a write's changes from the collection's copy.
type planFunc func(*mirror.Collection) ([]mirror.Change, error)

// write runs one write to the collection name: see memDB.
func (d *memDB) write(ctx context.Context, name string, plan planFunc, ordered bool) error {
	if reason := d.health.fencedFor(); reason != "" {
		return &unavailable{reason: reason}
	}
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	ds := deferredFrom(ctx)
	if ds != nil && ds.epoch != d.epoch {
		leave()
		return &unavailable{reason: "an earlier write of this operation was not written", cause: ds.err()}
	}
	b, refused, err := d.stage(name, plan, ordered)
	leave()
	if err != nil || b == nil {
		return errors.Join(err, refused)
	}
	select {
	case d.kick <- struct{}{}:
	default:
	}
	if ds != nil {
		ds.mu.Lock()
		ds.last = b // answered now; Deferred's flush waits for it
		ds.mu.Unlock()
		return refused
	}
	// The write does not follow its request's context: once staged, it
	// is committed whatever the client does; its answer waits at most a
	// command's deadline.
	timer := time.NewTimer(commandTimeout)
	defer timer.Stop()
	select {
	case <-b.done:
	case <-timer.C:
		return &unavailable{reason: fmt.Sprintf("a write was not on disk within %s", commandTimeout)}
	}
	if b.err != nil {
		return b.err
	}
	return refused
}

// stage plans a write, applies it to the copy and adds it to the batch
// being filled, which it returns (nil when the write changes nothing).
// refused is the duplicate that stopped part of the write (the rest is
// staged); err a failure that stopped all of it. The caller holds the
// gate.
func (d *memDB) stage(name string, plan planFunc, ordered bool) (b *batch, refused, err error) {
	if d.closed {
		return nil, nil, errClosed
	}
	mc := d.collection(name)
	m := mc.m.Load()
	changes, err := plan(m)
	if err != nil {
		return nil, nil, err
	}
	changes = slices.DeleteFunc(changes, mirror.Change.Unchanged)
	for {
		i, err := uniqueViolation(name, m, mc.specs, changes)
		if err != nil && !IsDuplicate(err) {
			return nil, nil, err
		}
		if i < 0 {
			break
		}
		refused = errors.Join(refused, err)
		if ordered {
			changes = changes[:i]
			break
		}
		changes = slices.Delete(changes, i, i+1)
	}
	if len(changes) == 0 {
		return nil, refused, nil
	}
	if err := m.Commit(changes); err != nil {
		return nil, nil, err // cannot be stale: the gate is held
	}
	b = d.batch
	if !mc.stored {
		b.ops = append(b.ops, fileOp{coll: name, create: true})
		mc.stored = true
	}
	for _, ch := range changes {
		b.ops = append(b.ops, fileOp{coll: name, id: idBytes(ch.ID), doc: ch.New})
	}
	return b, refused, nil
}

// commitLoop writes the staged batches to the file, one transaction each,
// until close; then the last one.
func (d *memDB) commitLoop() {
	defer close(d.committed)
	for {
		select {
		case <-d.kick:
			d.commit()
		case <-d.stop:
			d.commit()
			return
		}
	}
}

// commit writes the batch being filled, if it holds anything, and starts a
// new one.
func (d *memDB) commit() {
	leave := d.enterGate()
	b := d.batch
	d.batch = newBatch()
	leave()
	if len(b.ops) == 0 {
		close(b.done)
		return
	}
	start := time.Now()
	err := d.health.command(context.Background(), func(ctx context.Context) error {
		if d.failCommit != nil {
			if err := d.failCommit(); err != nil {
				return err
			}
		}
		return d.file.apply(ctx, b.ops)
	})
	d.observer.Committed(len(b.ops), err, time.Since(start))
	if err != nil {
		// The copy holds this batch's writes, and perhaps writes staged
		// on top of them since: back to what the file holds.
		leave := d.enterGate()
		next := d.batch
		d.batch = newBatch()
		d.epoch++
		if rerr := d.reload(context.Background()); rerr != nil {
			d.log.Error("the embedded database cannot read its file back after a failed commit; refusing writes", "err", rerr)
			d.health.fence("the embedded database's file cannot be read back")
		}
		leave()
		next.err = fmt.Errorf("not written, as a write before it failed: %w", err)
		close(next.done)
		b.err = err
	}
	close(b.done)
}

// enterGate takes the gate for the database's own work, waiting as long as
// it takes: writers hold it for microseconds.
func (d *memDB) enterGate() (leave func()) {
	for {
		leave, err := d.gate.enter(context.Background())
		if err == nil {
			return leave
		}
	}
}

// flush waits until every write staged so far is on disk.
func (d *memDB) flush() error {
	leave := d.enterGate()
	b := d.batch
	leave()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	<-b.done
	return b.err
}

// ddl changes what the file holds of collections, after every staged write
// is on disk, with the gate held so that no write runs meanwhile: check may
// refuse the change, the statements make it durable, and then apply makes it
// in memory.
func (d *memDB) ddl(ctx context.Context, check func() error, apply func(), stmts ...stmt) error {
	if err := d.flush(); err != nil {
		return err
	}
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := check(); err != nil {
		return err
	}
	if err := d.file.exec(ctx, stmts...); err != nil {
		return err
	}
	apply()
	return nil
}

func nothing() error { return nil }

// createIndexes runs the createIndexes command: it records the indexes of
// a collection (an index of the same name is left as it is) after checking
// that the documents already there do not break a unique one.
func (d *memDB) createIndexes(ctx context.Context, name string, raws []bson.Raw) error {
	mc := d.collection(name)
	var add []indexSpec
	for _, raw := range raws {
		s, err := parseIndexSpec(raw)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(mc.specs, func(o indexSpec) bool { return o.name == s.name }) {
			add = append(add, s)
		}
	}
	if len(add) == 0 {
		return nil
	}
	stmts := []stmt{createCollection(name)}
	for _, s := range add {
		stmts = append(stmts, stmt{`INSERT INTO indexes (coll, name, spec) VALUES (?, ?, ?)`, []any{name, s.name, []byte(s.raw)}})
	}
	check := func() error {
		docs, _, err := mc.m.Load().Find(mirror.Query{})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, doc := range docs {
			for _, s := range add {
				if !s.unique {
					continue
				}
				k, _ := uniqueKey(s, doc)
				if seen[k] {
					return &DuplicateKeyError{Collection: name, Index: s.name}
				}
				seen[k] = true
			}
		}
		return nil
	}
	return d.ddl(ctx, check, func() {
		mc.specs = append(mc.specs, add...)
		mc.stored = true
		mc.m.Load().Indexable(leadingFields(add)...)
	}, stmts...)
}

// drop deletes a collection.
func (d *memDB) drop(ctx context.Context, name string) error {
	return d.ddl(ctx, nothing, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.cols, name)
	}, stmt{`DELETE FROM docs WHERE coll = ?`, []any{name}}, stmt{`DELETE FROM indexes WHERE coll = ?`, []any{name}},
		stmt{`DELETE FROM collections WHERE coll = ?`, []any{name}})
}

// rename renames a collection, unless to exists or from does not.
func (d *memDB) rename(ctx context.Context, from, to string) error {
	names := d.names()
	if !slices.Contains(names, from) || slices.Contains(names, to) {
		return nil
	}
	return d.ddl(ctx, nothing, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		mc := d.cols[from]
		delete(d.cols, from)
		mc.name = to
		d.cols[to] = mc
	}, stmt{`UPDATE docs SET coll = ? WHERE coll = ?`, []any{to, from}}, stmt{`UPDATE indexes SET coll = ? WHERE coll = ?`, []any{to, from}},
		stmt{`UPDATE collections SET coll = ? WHERE coll = ?`, []any{to, from}})
}

// close commits what is staged and closes the file. A write that comes
// later answers errClosed.
func (d *memDB) close() error {
	var err error
	d.closeOnce.Do(func() {
		leave := d.enterGate()
		d.closed = true
		leave()
		close(d.stop)
		<-d.committed
		err = d.file.close()
	})
	return err
}

// command runs a migration's command: createIndexes, which every migration
// file sends, or insert.
func (d *memDB) command(ctx context.Context, cmd bson.D) error {
	if len(cmd) == 0 {
		return errors.New("empty command")
	}
	name, ok := cmd[0].Value.(string)
	if !ok {
		return fmt.Errorf("%s: want a collection name", cmd[0].Key)
	}
	var list bson.A
	for _, e := range cmd[1:] {
		if e.Key == "indexes" || e.Key == "documents" {
			list, _ = e.Value.(bson.A)
		}
	}
	raws := make([]bson.Raw, len(list))
	for i, v := range list {
		raw, err := bson.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd[0].Key, err)
		}
		raws[i] = raw
	}
	switch cmd[0].Key {
	case "createIndexes":
		return d.createIndexes(ctx, name, raws)
	case "insert":
		return d.write(ctx, name, func(m *mirror.Collection) ([]mirror.Change, error) { return m.PlanInsert(raws) }, true)
	}
	return fmt.Errorf("the embedded database does not run the command %q", cmd[0].Key)
}
