package mirror

import (
	"hash/maphash"
	"slices"
)

// positions maps values to the positions of the documents that hold them,
// for the _id lookup and the hash indexes. It keeps 64-bit hashes of the
// values' keys rather than the keys, which for a collection of short
// documents would weigh as much as the documents: a lookup may then also
// return a document holding another value with the same hash, which the
// caller's check of each candidate against the filter (or the _id) drops.
type positions struct {
	hash func(key string) uint64
	one  map[uint64]int32   // hashes only one document holds, the usual case for _id
	many map[uint64][]int32 // the others, each ascending
}

func newPositions(hash func(key string) uint64) *positions {
	return &positions{hash: hash, one: map[uint64]int32{}, many: map[uint64][]int32{}}
}

// newHash returns a hash function with a fresh seed.
func newHash() func(string) uint64 {
	seed := maphash.MakeSeed()
	return func(key string) uint64 { return maphash.String(seed, key) }
}

// add records pos under key. Positions are added in ascending order but for
// a document that changes, which goes back to its place.
func (p *positions) add(key string, pos int32) {
	h := p.hash(key)
	if b, ok := p.many[h]; ok {
		if b[len(b)-1] < pos {
			p.many[h] = append(b, pos)
		} else if i, found := slices.BinarySearch(b, pos); !found {
			p.many[h] = slices.Insert(b, i, pos)
		}
		return
	}
	first, ok := p.one[h]
	switch {
	case !ok:
		p.one[h] = pos
	case first != pos:
		delete(p.one, h)
		p.many[h] = []int32{min(first, pos), max(first, pos)}
	}
}

// remove forgets pos under key.
func (p *positions) remove(key string, pos int32) {
	h := p.hash(key)
	if first, ok := p.one[h]; ok {
		if first == pos {
			delete(p.one, h)
		}
		return
	}
	b := p.many[h]
	i, found := slices.BinarySearch(b, pos)
	if !found {
		return
	}
	b = slices.Delete(b, i, i+1)
	switch len(b) {
	case 1:
		delete(p.many, h)
		p.one[h] = b[0]
	case 0:
		delete(p.many, h)
	default:
		p.many[h] = b
	}
}

// get returns, ascending, the positions recorded under key, and perhaps a few
// under another key with the same hash. The caller must not change them.
func (p *positions) get(key string) []int32 {
	h := p.hash(key)
	if pos, ok := p.one[h]; ok {
		return []int32{pos}
	}
	return p.many[h]
}
