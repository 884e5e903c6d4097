package mirror

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// ErrUnsupported is returned for a filter, sort or update this package does
// not evaluate. It implements what the stores use, on top-level fields; the
// storage tests run every store query through it, and a property test checks
// it against FerretDB's own evaluation.
var ErrUnsupported = errors.New("not supported by the in-memory copy")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// Filter is a compiled query filter.
//
// A filter naming several fields reads them in one walk along the document
// rather than a walk each (a field is found by reading the fields before
// it), into a buffer of its own: a Filter is for one goroutine, as each
// query compiles its own.
type Filter struct {
	conds []cond // all must hold
	// slots numbers the fields the filter names, nested ones too (the
	// top-level filter's only); vals is the buffer of their values.
	slots map[string]int
	vals  []bson.RawValue
	m     matched // the document being matched, kept here so as not to allocate one per match
}

// walkFrom is how many fields a filter names from which one walk reading
// them all beats a lookup each.
const walkFrom = 3

type cond interface {
	match(d *matched) bool
}

// matched is the document being matched, with the values of the filter's
// fields when they were read in one walk (vals not nil).
type matched struct {
	raw  bson.Raw
	vals []bson.RawValue
}

func (m *matched) get(f *field) bson.RawValue {
	if m.vals == nil {
		return lookup(m.raw, f.name)
	}
	return m.vals[f.slot]
}

// Compile compiles a filter document: top-level fields compared with a
// value (equality, or a regular expression match) or with the operators
// $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $size and $regex; and
// $and, $or and $nor of such filters.
func Compile(filter bson.Raw) (*Filter, error) {
	slots := map[string]int{}
	f, err := compile(filter, slots)
	if err != nil {
		return nil, err
	}
	if len(slots) >= walkFrom {
		f.slots, f.vals = slots, make([]bson.RawValue, len(slots))
	}
	return f, nil
}

// compile compiles a filter whose fields are numbered in slots.
func compile(filter bson.Raw, slots map[string]int) (*Filter, error) {
	elems, err := filter.Elements()
	if err != nil {
		return nil, err
	}
	f := &Filter{}
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		if strings.HasPrefix(k, "$") {
			c, err := compileLogical(k, v, slots)
			if err != nil {
				return nil, err
			}
			f.conds = append(f.conds, c)
			continue
		}
		if strings.Contains(k, ".") {
			return nil, unsupported("dotted path %q", k)
		}
		c, err := compileField(k, v)
		if err != nil {
			return nil, err
		}
		if _, ok := slots[k]; !ok {
			slots[k] = len(slots)
		}
		c.slot = slots[k]
		f.conds = append(f.conds, c)
	}
	return f, nil
}

// Match reports whether doc satisfies the filter.
func (f *Filter) Match(doc bson.Raw) bool {
	f.m = matched{raw: doc}
	if f.vals != nil {
		clear(f.vals)
		readFields(doc, f.slots, f.vals)
		f.m.vals = f.vals
	}
	return f.match(&f.m)
}

func (f *Filter) match(m *matched) bool {
	for _, c := range f.conds {
		if !c.match(m) {
			return false
		}
	}
	return true
}

// readFields sets vals[slots[name]] to the value of each field of doc that
// slots names, the first of a name, as a lookup would find it; a field
// missing stays the zero value.
func readFields(doc bson.Raw, slots map[string]int, vals []bson.RawValue) {
	if len(doc) < 5 {
		return
	}
	rest := bsoncore.Document(doc[4 : len(doc)-1])
	for len(rest) > 0 {
		e, more, ok := bsoncore.ReadElement(rest)
		if !ok {
			return
		}
		if i, named := slots[string(e.KeyBytes())]; named && vals[i].Type == 0 {
			v := e.Value()
			vals[i] = bson.RawValue{Type: bson.Type(v.Type), Value: v.Data}
		}
		rest = more
	}
}

type logical struct {
	op   string // $and, $or, $nor
	subs []*Filter
}

func compileLogical(op string, v bson.RawValue, slots map[string]int) (cond, error) {
	switch op {
	case "$and", "$or", "$nor":
	default:
		return nil, unsupported("operator %s", op)
	}
	if v.Type != bson.TypeArray {
		return nil, fmt.Errorf("%s must be an array", op)
	}
	l := &logical{op: op}
	for _, sub := range elements(v) {
		d, ok := sub.DocumentOK()
		if !ok {
			return nil, fmt.Errorf("%s entries must be documents", op)
		}
		f, err := compile(d, slots)
		if err != nil {
			return nil, err
		}
		l.subs = append(l.subs, f)
	}
	if len(l.subs) == 0 {
		return nil, fmt.Errorf("%s must be a non-empty array", op)
	}
	return l, nil
}

func (l *logical) match(m *matched) bool {
	switch l.op {
	case "$and":
		for _, f := range l.subs {
			if !f.match(m) {
				return false
			}
		}
		return true
	case "$or":
		for _, f := range l.subs {
			if f.match(m) {
				return true
			}
		}
		return false
	default: // $nor
		for _, f := range l.subs {
			if f.match(m) {
				return false
			}
		}
		return true
	}
}

// field is the conditions on one top-level field.
type field struct {
	name string
	slot int // its number among the filter's fields
	ops  []fieldOp
}

type fieldOp interface {
	test(v bson.RawValue) bool // v has Type 0 when the field is missing
}

func (f *field) match(m *matched) bool {
	v := m.get(f)
	for _, op := range f.ops {
		if !op.test(v) {
			return false
		}
	}
	return true
}

// isOperatorDoc reports whether v is a document of operators ({$gt: 1}),
// rather than a literal document to compare with.
func isOperatorDoc(v bson.RawValue) (bool, error) {
	d, ok := v.DocumentOK()
	if !ok {
		return false, nil
	}
	elems, err := d.Elements()
	if err != nil || len(elems) == 0 {
		return false, err
	}
	ops := 0
	for _, e := range elems {
		if strings.HasPrefix(e.Key(), "$") {
			ops++
		}
	}
	switch ops {
	case 0:
		return false, nil
	case len(elems):
		return true, nil
	}
	return false, fmt.Errorf("a condition mixes operators and fields: %s", d)
}

func compileField(name string, v bson.RawValue) (*field, error) {
	f := &field{name: name}
	isOps, err := isOperatorDoc(v)
	if err != nil {
		return nil, err
	}
	if !isOps {
		op, err := equality(v)
		if err != nil {
			return nil, err
		}
		f.ops = append(f.ops, op)
		return f, nil
	}
	elems, _ := v.Document().Elements()
	var regexOptions string
	for _, e := range elems {
		if e.Key() == "$options" {
			s, ok := e.Value().StringValueOK()
			if !ok {
				return nil, errors.New("$options must be a string")
			}
			regexOptions = s
		}
	}
	for _, e := range elems {
		op, arg := e.Key(), e.Value()
		var (
			c   fieldOp
			err error
		)
		switch op {
		case "$eq":
			c, err = equality(arg)
		case "$ne":
			c, err = equality(arg)
			c = not{c}
		case "$gt", "$gte", "$lt", "$lte":
			c, err = comparison(op, arg)
		case "$in", "$nin":
			c, err = in(arg)
			if op == "$nin" && err == nil {
				c = not{c}
			}
		case "$exists":
			c = exists(truthy(arg))
		case "$size":
			n, ok := intValue(arg)
			if !ok && arg.Type == bson.TypeDouble {
				f := floatValue(arg)
				n, ok = int64(f), f == float64(int64(f))
			}
			if !ok || n < 0 {
				return nil, errors.New("$size must be a non-negative whole number")
			}
			c = size(n)
		case "$regex":
			var pattern string
			switch arg.Type {
			case bson.TypeString:
				pattern = arg.StringValue()
			case bson.TypeRegex:
				var opts string
				pattern, opts = arg.Regex()
				if regexOptions == "" {
					regexOptions = opts
				}
			default:
				return nil, errors.New("$regex must be a string or a regular expression")
			}
			c, err = newRegex(pattern, regexOptions)
		case "$options":
			continue // read with $regex
		default:
			return nil, unsupported("operator %s", op)
		}
		if err != nil {
			return nil, err
		}
		f.ops = append(f.ops, c)
	}
	return f, nil
}

// equality is {field: v} and {field: {$eq: v}}: the field equals v, or is an
// array with an element equal to v; null also matches a missing field. A
// regular expression matches strings instead.
func equality(v bson.RawValue) (fieldOp, error) {
	switch v.Type {
	case bson.TypeRegex:
		return newRegex(v.Regex())
	case bson.TypeArray, bson.TypeEmbeddedDocument:
		// Whole-array and whole-document equality depend on element order
		// and types in ways the stores never need.
		return nil, unsupported("equality with an array or a document")
	}
	return eq{v}, nil
}

type eq struct{ want bson.RawValue }

func (e eq) test(v bson.RawValue) bool {
	if v.Type == bson.TypeArray {
		for _, el := range elements(v) {
			if equalValues(el, e.want) {
				return true
			}
		}
		return false
	}
	return equalValues(v, e.want)
}

type not struct{ fieldOp }

func (n not) test(v bson.RawValue) bool { return !n.fieldOp.test(v) }

// comparison is $gt, $gte, $lt and $lte: true for a field (or an element of
// an array field) of the same bracket as the operand that compares as asked.
type ordered struct {
	op   string
	want bson.RawValue
}

func comparison(op string, v bson.RawValue) (fieldOp, error) {
	switch bracket(v) {
	case bracketNumber, bracketString, bracketDate, bracketObjectID, bracketBool:
		return ordered{op, v}, nil
	}
	return nil, unsupported("%s with a %s", op, v.Type)
}

func (c ordered) test(v bson.RawValue) bool {
	if v.Type == bson.TypeArray {
		for _, el := range elements(v) {
			if c.test(el) {
				return true
			}
		}
		return false
	}
	if bracket(v) != bracket(c.want) {
		return false
	}
	r := compareValues(v, c.want)
	switch c.op {
	case "$gt":
		return r > 0
	case "$gte":
		return r >= 0
	case "$lt":
		return r < 0
	}
	return r <= 0
}

type anyOf []fieldOp

func in(v bson.RawValue) (fieldOp, error) {
	if v.Type != bson.TypeArray {
		return nil, errors.New("$in and $nin need an array")
	}
	var ops anyOf
	for _, el := range elements(v) {
		if el.Type == bson.TypeRegex {
			return nil, unsupported("a regular expression in $in")
		}
		op, err := equality(el)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func (a anyOf) test(v bson.RawValue) bool {
	for _, op := range a {
		if op.test(v) {
			return true
		}
	}
	return false
}

type exists bool

func (e exists) test(v bson.RawValue) bool { return (v.Type != 0) == bool(e) }

type size int64

func (s size) test(v bson.RawValue) bool {
	return v.Type == bson.TypeArray && int64(len(elements(v))) == int64(s)
}

type regex struct{ re *regexp.Regexp }

// newRegex compiles a MongoDB regular expression with Go's regexp, as
// FerretDB does: options i, m and s map to Go's flags.
func newRegex(pattern, options string) (fieldOp, error) {
	var flags string
	for _, o := range options {
		switch o {
		case 'i', 'm', 's':
			if !strings.ContainsRune(flags, o) {
				flags += string(o)
			}
		default:
			return nil, unsupported("regular expression option %q", o)
		}
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regular expression: %w", err)
	}
	return regex{re}, nil
}

func (r regex) test(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeString, bson.TypeSymbol:
		return r.re.Match(stringBytes(v))
	case bson.TypeArray:
		for _, el := range elements(v) {
			if r.test(el) {
				return true
			}
		}
	}
	return false
}

func truthy(v bson.RawValue) bool {
	switch bracket(v) {
	case bracketNull:
		return false
	case bracketBool:
		return v.Value[0] != 0
	case bracketNumber:
		return floatValue(v) != 0
	}
	return true
}

// eachField calls fn with the conditions on each top-level field that the
// filter requires whatever else holds: those at its top and inside $and,
// not those inside $or and $nor.
func (f *Filter) eachField(fn func(*field)) {
	for _, c := range f.conds {
		switch c := c.(type) {
		case *logical:
			if c.op == "$and" {
				for _, s := range c.subs {
					s.eachField(fn)
				}
			}
		case *field:
			fn(c)
		}
	}
}

// equalities returns, for the planner, the top-level fields the filter
// requires to equal one of a few values: {f: v}, {f: {$eq: v}} and
// {f: {$in: [...]}}.
func (f *Filter) equalities() map[string][]bson.RawValue {
	out := map[string][]bson.RawValue{}
	f.eachField(func(c *field) {
		for _, op := range c.ops {
			if vals, ok := equalityValues(op); ok {
				if prev, seen := out[c.name]; !seen || len(vals) < len(prev) {
					out[c.name] = vals
				}
			}
		}
	})
	return out
}

func equalityValues(op fieldOp) ([]bson.RawValue, bool) {
	switch op := op.(type) {
	case eq:
		return []bson.RawValue{op.want}, true
	case anyOf:
		vals := make([]bson.RawValue, 0, len(op))
		for _, o := range op {
			e, ok := o.(eq)
			if !ok {
				return nil, false
			}
			vals = append(vals, e.want)
		}
		return vals, true
	}
	return nil, false
}
