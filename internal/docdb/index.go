package docdb

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb/mirror"
)

// indexSpec is an index of the embedded database, as createIndexes defines
// it. The in-memory copy keeps a hash index on its leading field; a unique
// one is enforced on every write.
type indexSpec struct {
	name   string
	fields []string
	unique bool
	raw    bson.Raw // as given, kept in the file
}

func parseIndexSpec(raw bson.Raw) (indexSpec, error) {
	var d struct {
		Key    bson.D `bson:"key"`
		Name   string `bson:"name"`
		Unique bool   `bson:"unique"`
	}
	if err := bson.Unmarshal(raw, &d); err != nil {
		return indexSpec{}, err
	}
	if d.Name == "" || len(d.Key) == 0 {
		return indexSpec{}, errors.New("an index needs a name and a key")
	}
	s := indexSpec{name: d.Name, unique: d.Unique, raw: raw}
	for _, k := range d.Key {
		if strings.HasPrefix(k.Key, "$") {
			return indexSpec{}, fmt.Errorf("index %s: key %q is not supported", d.Name, k.Key)
		}
		s.fields = append(s.fields, k.Key)
	}
	return s, nil
}

// uniqueKey returns the key doc has in the unique index s, and the filter
// that finds the documents holding it. A missing field is null, as in
// MongoDB.
func uniqueKey(s indexSpec, doc bson.Raw) (string, bson.D) {
	filter := bson.D{}
	var k strings.Builder
	k.WriteString(s.name)
	for _, f := range s.fields {
		v, err := doc.LookupErr(f)
		if err != nil {
			filter = append(filter, bson.E{Key: f, Value: nil})
			k.WriteString("\x00z")
			continue
		}
		filter = append(filter, bson.E{Key: f, Value: v})
		k.WriteString("\x00" + mirror.Key(v))
	}
	return k.String(), filter
}

// leadingFields are the fields the copy may keep hash indexes on.
func leadingFields(specs []indexSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.fields[0])
	}
	return out
}

// DuplicateKeyError is a write refused because it would give two documents
// the same _id, or the same key of a unique index. IsDuplicate recognizes
// it.
type DuplicateKeyError struct {
	Collection string
	Index      string // "_id_" for the _id
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("E11000 duplicate key error collection: %s index: %s", e.Collection, e.Index)
}

// uniqueViolation says whether a change that stores a document takes an _id
// or a unique key another document holds: one already in m and not changed
// by these changes, or one an earlier change of the same write takes. It
// returns the index of the first change refused and why, or -1.
func uniqueViolation(coll string, m *mirror.Collection, specs []indexSpec, changes []mirror.Change) (int, error) {
	changed := map[string]bool{} // _id keys the changes touch
	for _, ch := range changes {
		changed[mirror.Key(ch.ID)] = true
	}
	taken := map[string]string{} // index name + key -> _id key, within the write
	for i := range changes {
		ch := changes[i]
		if ch.New == nil {
			continue
		}
		id := mirror.Key(ch.ID)
		if ch.Old == nil {
			if _, exists := m.Get(ch.ID); exists || taken["_id_"+id] != "" {
				return i, &DuplicateKeyError{Collection: coll, Index: "_id_"}
			}
			taken["_id_"+id] = id
		}
		for _, s := range specs {
			if !s.unique {
				continue
			}
			k, filter := uniqueKey(s, ch.New)
			if ch.Old != nil {
				if old, _ := uniqueKey(s, ch.Old); old == k {
					continue // the key did not change
				}
			}
			if other := taken[k]; other != "" && other != id {
				return i, &DuplicateKeyError{Collection: coll, Index: s.name}
			}
			taken[k] = id
			raw, err := bson.Marshal(filter)
			if err != nil {
				return i, err
			}
			holders, _, err := m.Find(mirror.Query{Filter: raw})
			if err != nil {
				return i, err
			}
			for _, h := range holders {
				hid := mirror.Key(h.Lookup("_id"))
				if hid != id && !changed[hid] {
					return i, &DuplicateKeyError{Collection: coll, Index: s.name}
				}
			}
		}
	}
	return -1, nil
}
