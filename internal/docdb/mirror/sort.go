package mirror

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Sort is a compiled sort document.
type Sort struct {
	fields []string
	desc   []bool
}

// CompileSort compiles a sort document of top-level fields, each 1 or -1.
// An empty or nil document means no sort.
func CompileSort(sort bson.Raw) (*Sort, error) {
	s := &Sort{}
	if len(sort) == 0 {
		return s, nil
	}
	elems, err := sort.Elements()
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		k := e.Key()
		if strings.HasPrefix(k, "$") || strings.Contains(k, ".") {
			return nil, unsupported("sort on %q", k)
		}
		dir, ok := intValue(e.Value())
		if !ok && e.Value().Type == bson.TypeDouble {
			dir, ok = int64(floatValue(e.Value())), true
		}
		if !ok || (dir != 1 && dir != -1) {
			return nil, errors.New("sort directions must be 1 or -1")
		}
		s.fields = append(s.fields, k)
		s.desc = append(s.desc, dir == -1)
	}
	return s, nil
}

// keys extracts the sort keys of a document. An array in a sort field (which
// MongoDB sorts by its smallest or largest element) is not supported.
func (s *Sort) keys(doc bson.Raw) ([]bson.RawValue, error) {
	ks := make([]bson.RawValue, len(s.fields))
	for i, f := range s.fields {
		ks[i] = lookup(doc, f)
		if ks[i].Type == bson.TypeArray {
			return nil, unsupported("sort on the array field %q", f)
		}
	}
	return ks, nil
}

// compare orders two documents' keys.
func (s *Sort) compare(a, b []bson.RawValue) int {
	for i := range s.fields {
		c := compareValues(a[i], b[i])
		if s.desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
