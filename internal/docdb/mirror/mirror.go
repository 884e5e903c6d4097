// Package mirror keeps an in-memory copy of a MongoDB collection and answers
// queries from it: the filters, sorts, counts and sums the stores use,
// evaluated as MongoDB (and FerretDB) evaluate them.
//
// The embedded database (package docdb) keeps every collection here, loaded
// from its file once, and answers every read from it: a write is planned
// here (which documents it touches and what they become), applied here and
// then made durable in the file. The caller serializes writers from plan to
// commit (docdb's write gate), so nothing changes in between. The property
// tests run the same documents, filters, sorts and updates through this copy
// and through FerretDB and require the same answers.
//
// Documents are kept as their BSON bytes, so the copy weighs about what the
// data does. Equality conditions on _id and on the fields that lead one of
// the collection's indexes are answered from hash indexes, built when a query
// first needs them; every other condition is checked on each candidate.
package mirror

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Collection is the in-memory copy of one collection. Reads run concurrently
// with each other and with Commit. Writers must be serialized by the caller
// from Plan to Commit.
type Collection struct {
	mu      sync.RWMutex
	docs    []bson.Raw // in natural order, as the database returns them unsorted; nil where removed
	removed int        // nil entries in docs
	ids     *positions // by the key of _id
	size    int64      // bytes of BSON held
	hash    func(key string) uint64

	indexable map[string]bool       // fields that lead one of the collection's indexes
	indexes   map[string]*hashIndex // those a query has needed so far
}

// New returns an empty copy of a collection whose indexes lead with the
// given fields.
func New(indexedFields []string) *Collection {
	c := &Collection{hash: newHash(), indexable: map[string]bool{}, indexes: map[string]*hashIndex{}}
	c.ids = newPositions(c.hash)
	for _, f := range indexedFields {
		if f != "_id" {
			c.indexable[f] = true
		}
	}
	return c
}

// Indexable adds fields that lead an index of the collection, which queries
// may then answer from hash indexes.
func (c *Collection) Indexable(fields ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range fields {
		if f != "_id" {
			c.indexable[f] = true
		}
	}
}

// Load adds documents read from the database, in its natural order, to a
// new copy. The copy keeps the slices it is given.
func (c *Collection) Load(docs []bson.Raw) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.docs = slices.Grow(c.docs, len(docs))
	for _, raw := range docs {
		id, err := idKey(raw)
		if err != nil {
			return err
		}
		if _, dup := c.position(id); dup {
			return fmt.Errorf("two documents with _id %s", raw.Lookup("_id"))
		}
		c.insert(id, raw)
	}
	return nil
}

// position finds the document whose _id has the key id.
func (c *Collection) position(id string) (int32, bool) {
	for _, pos := range c.ids.get(id) {
		if k, err := idKey(c.docs[pos]); err == nil && k == id {
			return pos, true
		}
	}
	return 0, false
}

func idKey(raw bson.Raw) (string, error) {
	v, err := raw.LookupErr("_id")
	if err != nil {
		return "", fmt.Errorf("document without _id: %w", err)
	}
	return key(v), nil
}

// Stats says how many documents the copy holds and their size in BSON.
func (c *Collection) Stats() (docs int, bytes int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.docs) - c.removed, c.size
}

// Query is a find: a filter, and optionally a sort, a number of documents to
// skip and a limit (0 for none).
type Query struct {
	Filter bson.Raw
	Sort   bson.Raw
	Skip   int64
	Limit  int64
}

// Find returns the documents matching q, in order, and how many match in all
// (skip and limit aside): a page and its total in one pass.
func (c *Collection) Find(q Query) (page []bson.Raw, total int, err error) {
	f, err := Compile(q.Filter)
	if err != nil {
		return nil, 0, err
	}
	s, err := CompileSort(q.Sort)
	if err != nil {
		return nil, 0, err
	}
	unlock := c.readLock(f)
	defer unlock()
	matches := c.matching(f)
	total = len(matches)
	if len(s.fields) > 0 {
		want := int64(len(matches))
		if q.Limit > 0 {
			want = min(want, q.Skip+q.Limit)
		}
		if matches, err = c.sorted(matches, s, want); err != nil {
			return nil, 0, err
		}
	}
	lo := min(int64(len(matches)), q.Skip)
	hi := int64(len(matches))
	if q.Limit > 0 {
		hi = min(hi, lo+q.Limit)
	}
	page = make([]bson.Raw, 0, hi-lo)
	for _, i := range matches[lo:hi] {
		page = append(page, c.docs[i])
	}
	return page, total, nil
}

// sorted orders the documents at positions by s, ties in natural order. Only
// the first want of the result need be in order: for a page of a long list
// it keeps the best want seen so far instead of sorting everything.
func (c *Collection) sorted(positions []int32, s *Sort, want int64) ([]int32, error) {
	type keyed struct {
		pos  int32
		keys []bson.RawValue
	}
	order := func(a, b keyed) int {
		if r := s.compare(a.keys, b.keys); r != 0 {
			return r
		}
		return cmp.Compare(a.pos, b.pos)
	}
	partial := want < int64(len(positions))/4
	var ks []keyed
	for _, pos := range positions {
		k, err := s.keys(c.docs[pos])
		if err != nil {
			return nil, err
		}
		e := keyed{pos, k}
		if !partial {
			ks = append(ks, e)
			continue
		}
		if int64(len(ks)) == want && (want == 0 || order(e, ks[want-1]) >= 0) {
			continue
		}
		i, _ := slices.BinarySearchFunc(ks, e, order)
		ks = slices.Insert(ks, i, e)
		if int64(len(ks)) > want {
			ks = ks[:want]
		}
	}
	if !partial {
		slices.SortFunc(ks, order)
	}
	out := make([]int32, len(ks))
	for i, k := range ks {
		out[i] = k.pos
	}
	return out, nil
}

// Count returns how many documents match filter.
func (c *Collection) Count(filter bson.Raw) (int, error) {
	f, err := Compile(filter)
	if err != nil {
		return 0, err
	}
	unlock := c.readLock(f)
	defer unlock()
	return len(c.matching(f)), nil
}

// Sum adds up a field over the documents matching filter as $group's $sum
// does, for whole numbers: missing and non-numeric fields count as 0.
func (c *Collection) Sum(filter bson.Raw, field string) (int64, error) {
	f, err := Compile(filter)
	if err != nil {
		return 0, err
	}
	unlock := c.readLock(f)
	defer unlock()
	var sum int64
	for _, pos := range c.matching(f) {
		v := lookup(c.docs[pos], field)
		if i, ok := intValue(v); ok {
			sum += i
		} else if v.Type == bson.TypeDouble {
			return 0, unsupported("$sum of doubles in %q", field)
		}
	}
	return sum, nil
}

// readLock takes the read lock, first building any index f can use that no
// query has needed before.
func (c *Collection) readLock(f *Filter) (unlock func()) {
	c.mu.RLock()
	var missing []string
	for name := range f.equalities() {
		if c.indexable[name] && c.indexes[name] == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return c.mu.RUnlock
	}
	c.mu.RUnlock()
	c.mu.Lock()
	for _, name := range missing {
		if c.indexes[name] == nil {
			c.indexes[name] = c.buildIndex(name)
		}
	}
	c.mu.Unlock()
	c.mu.RLock()
	return c.mu.RUnlock
}

// BuildIndexes builds now every index the copy may use, rather than on
// first use: the most memory the copy can take.
func (c *Collection) BuildIndexes() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.indexable {
		if c.indexes[name] == nil {
			c.indexes[name] = c.buildIndex(name)
		}
	}
}

// matching returns the positions of the documents matching f, in natural
// order. It checks only the candidates of f's most selective equality on
// _id or an indexed field, if it has one. The caller holds a lock.
func (c *Collection) matching(f *Filter) []int32 {
	var out []int32
	check := func(pos int32) {
		if d := c.docs[pos]; d != nil && f.Match(d) {
			out = append(out, pos)
		}
	}
	cands, all := c.candidates(f)
	if all {
		for pos := range c.docs {
			check(int32(pos))
		}
		return out
	}
	for _, pos := range cands {
		check(pos)
	}
	return out
}

// candidates returns the positions f's equalities allow, or all when f has
// none that an index serves.
func (c *Collection) candidates(f *Filter) (cands []int32, all bool) {
	eqs := f.equalities()
	if vals, ok := eqs["_id"]; ok {
		for _, v := range vals {
			if pos, found := c.position(key(v)); found && !slices.Contains(cands, pos) {
				cands = append(cands, pos)
			}
		}
		slices.Sort(cands)
		return cands, false
	}
	found := false
	for name, vals := range eqs {
		if ix := c.indexes[name]; ix != nil {
			if b := ix.lookup(vals); !found || len(b) < len(cands) {
				cands, found = b, true
			}
		}
	}
	return cands, !found
}

// Get returns the document whose _id is id.
func (c *Collection) Get(id bson.RawValue) (bson.Raw, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if pos, ok := c.position(key(id)); ok {
		return c.docs[pos], true
	}
	return nil, false
}

// Change is what a write does to one document: an insert (Old nil), a
// replacement, or a removal (New nil).
type Change struct {
	ID  bson.RawValue
	Old bson.Raw
	New bson.Raw
}

// Unchanged reports whether the change leaves the document as it was, so
// that the database need not be told.
func (ch Change) Unchanged() bool {
	return ch.Old != nil && ch.New != nil && string(ch.Old) == string(ch.New)
}

// PlanInsert returns the changes that insert docs, each with its _id first.
// A duplicate _id is left for the database to refuse.
func (c *Collection) PlanInsert(docs []bson.Raw) ([]Change, error) {
	out := make([]Change, len(docs))
	for i, raw := range docs {
		raw, err := withIDFirst(raw)
		if err != nil {
			return nil, err
		}
		out[i] = Change{ID: raw.Lookup("_id"), New: raw}
	}
	return out, nil
}

// PlanUpdate returns the changes an update makes: to the first document
// matching filter, or with many to all of them, in natural order. With upsert
// and no match, the change inserts the document MongoDB would build (see
// Upsert); if its _id is taken, the database refuses it as a duplicate, as it
// would the upsert. matched counts the documents the filter matched.
func (c *Collection) PlanUpdate(filter, update bson.Raw, upsert, many bool) (changes []Change, matched int, err error) {
	f, err := Compile(filter)
	if err != nil {
		return nil, 0, err
	}
	u, err := CompileUpdate(update)
	if err != nil {
		return nil, 0, err
	}
	unlock := c.readLock(f)
	defer unlock()
	matches := c.matching(f)
	if len(matches) == 0 {
		if !upsert {
			return nil, 0, nil
		}
		doc, err := Upsert(filter, u)
		if err != nil {
			return nil, 0, err
		}
		return []Change{{ID: doc.Lookup("_id"), New: doc}}, 0, nil
	}
	if !many {
		matches = matches[:1]
	}
	for _, pos := range matches {
		old := c.docs[pos]
		next, err := u.Apply(old, false)
		if err != nil {
			return nil, 0, err
		}
		changes = append(changes, Change{ID: old.Lookup("_id"), Old: old, New: next})
	}
	return changes, len(matches), nil
}

// PlanDelete returns the changes that delete the first document matching
// filter, or with many all of them.
func (c *Collection) PlanDelete(filter bson.Raw, many bool) ([]Change, error) {
	f, err := Compile(filter)
	if err != nil {
		return nil, err
	}
	unlock := c.readLock(f)
	defer unlock()
	matches := c.matching(f)
	if !many && len(matches) > 1 {
		matches = matches[:1]
	}
	out := make([]Change, len(matches))
	for i, pos := range matches {
		out[i] = Change{ID: c.docs[pos].Lookup("_id"), Old: c.docs[pos]}
	}
	return out, nil
}

// ErrStale means a commit met a document in another state than its plan saw:
// a writer ran between them. The copy can no longer be trusted.
var ErrStale = errors.New("in-memory copy out of step with its plan")

// Commit applies changes the database has made.
func (c *Collection) Commit(changes []Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changes {
		id := key(ch.ID)
		pos, exists := c.position(id)
		switch {
		case ch.Old == nil && ch.New != nil && !exists:
			c.insert(id, ch.New)
		case ch.Old != nil && exists && string(c.docs[pos]) == string(ch.Old):
			if ch.New == nil {
				c.remove(id, pos)
			} else {
				c.replace(pos, ch.New)
			}
		default:
			return fmt.Errorf("%w: document %s", ErrStale, ch.ID)
		}
	}
	if c.removed > 16 && c.removed > len(c.docs)/4 {
		c.compact()
	}
	return nil
}

// insert adds a new document at the end of the natural order. The caller
// holds the write lock.
func (c *Collection) insert(id string, raw bson.Raw) {
	pos := int32(len(c.docs))
	c.docs = append(c.docs, raw)
	c.ids.add(id, pos)
	c.size += int64(len(raw))
	for _, ix := range c.indexes {
		ix.add(pos, raw)
	}
}

// replace gives a document new bytes in the same place of the natural
// order. The caller holds the write lock.
func (c *Collection) replace(pos int32, raw bson.Raw) {
	for _, ix := range c.indexes {
		ix.remove(pos, c.docs[pos])
		ix.add(pos, raw)
	}
	c.size += int64(len(raw)) - int64(len(c.docs[pos]))
	c.docs[pos] = raw
}

// remove deletes a document, leaving a hole until the next compaction. The
// caller holds the write lock.
func (c *Collection) remove(id string, pos int32) {
	for _, ix := range c.indexes {
		ix.remove(pos, c.docs[pos])
	}
	c.ids.remove(id, pos)
	c.size -= int64(len(c.docs[pos]))
	c.docs[pos] = nil
	c.removed++
}

// compact closes the holes removals left, renumbering the positions. The
// caller holds the write lock.
func (c *Collection) compact() {
	c.docs = slices.DeleteFunc(c.docs, func(d bson.Raw) bool { return d == nil })
	c.removed = 0
	c.ids = newPositions(c.hash)
	for pos, d := range c.docs {
		id, _ := idKey(d)
		c.ids.add(id, int32(pos))
	}
	for name := range c.indexes {
		c.indexes[name] = c.buildIndex(name)
	}
}

// hashIndex maps the values of one field to the positions of the documents
// holding them, as a MongoDB index does: an array field is indexed under
// each of its elements, and a missing field as null.
type hashIndex struct {
	field string
	pos   *positions
}

// buildIndex indexes field over the whole copy. The caller holds the write
// lock.
func (c *Collection) buildIndex(field string) *hashIndex {
	ix := &hashIndex{field: field, pos: newPositions(c.hash)}
	for pos, d := range c.docs {
		if d != nil {
			ix.add(int32(pos), d)
		}
	}
	return ix
}

// keys returns the keys a document is indexed under.
func (ix *hashIndex) keys(doc bson.Raw) []string {
	v := lookup(doc, ix.field)
	if v.Type != bson.TypeArray {
		return []string{key(v)}
	}
	var ks []string
	for _, el := range elements(v) {
		if k := key(el); !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

func (ix *hashIndex) add(pos int32, doc bson.Raw) {
	for _, k := range ix.keys(doc) {
		ix.pos.add(k, pos)
	}
}

func (ix *hashIndex) remove(pos int32, doc bson.Raw) {
	for _, k := range ix.keys(doc) {
		ix.pos.remove(k, pos)
	}
}

// lookup returns the positions of the documents holding any of vals,
// ascending (and perhaps a few others, which the filter drops).
func (ix *hashIndex) lookup(vals []bson.RawValue) []int32 {
	if len(vals) == 1 {
		return ix.pos.get(key(vals[0]))
	}
	var out []int32
	for _, v := range vals {
		out = append(out, ix.pos.get(key(v))...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
