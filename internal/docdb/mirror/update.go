package mirror

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Update is a compiled update document of the operators $set, $unset, $inc,
// $push (a value, or $each of values), $pull (values equal to one) and
// $setOnInsert, on top-level fields.
type Update struct {
	ops []updateOp
}

type updateOp struct {
	op    string
	field string
	arg   bson.RawValue
}

// CompileUpdate compiles an update document.
func CompileUpdate(update bson.Raw) (*Update, error) {
	elems, err := update.Elements()
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, errors.New("empty update")
	}
	u := &Update{}
	seen := map[string]bool{}
	for _, e := range elems {
		op := e.Key()
		switch op {
		case "$set", "$unset", "$inc", "$push", "$pull", "$setOnInsert":
		default:
			if !strings.HasPrefix(op, "$") {
				return nil, unsupported("replacement documents")
			}
			return nil, unsupported("update operator %s", op)
		}
		args, ok := e.Value().DocumentOK()
		if !ok {
			return nil, fmt.Errorf("%s needs a document", op)
		}
		fields, err := args.Elements()
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			name, arg := f.Key(), f.Value()
			switch {
			case name == "" || strings.HasPrefix(name, "$"):
				return nil, fmt.Errorf("%s: bad field name %q", op, name)
			case strings.Contains(name, "."):
				return nil, unsupported("dotted path %q", name)
			case seen[name]:
				return nil, fmt.Errorf("updating the path %q would create a conflict", name)
			case name == "_id" && op != "$setOnInsert":
				return nil, errors.New("the _id field cannot be changed")
			}
			seen[name] = true
			if err := checkArg(op, arg); err != nil {
				return nil, err
			}
			u.ops = append(u.ops, updateOp{op: op, field: name, arg: arg})
		}
	}
	// MongoDB (5.0 on) and FerretDB apply an update's fields in the
	// lexicographic order of their names, whatever the operator: new fields
	// are appended in that order.
	slices.SortFunc(u.ops, func(a, b updateOp) int { return strings.Compare(a.field, b.field) })
	return u, nil
}

func checkArg(op string, arg bson.RawValue) error {
	switch op {
	case "$inc":
		if bracket(arg) != bracketNumber {
			return errors.New("$inc needs a number")
		}
	case "$push":
		if isOps, err := isOperatorDoc(arg); err != nil {
			return err
		} else if isOps {
			elems, _ := arg.Document().Elements()
			if len(elems) != 1 || elems[0].Key() != "$each" {
				return unsupported("$push modifiers other than $each")
			}
			if elems[0].Value().Type != bson.TypeArray {
				return errors.New("$each needs an array")
			}
		}
	case "$pull":
		if isOps, err := isOperatorDoc(arg); err != nil || isOps {
			return errors.Join(err, unsupported("$pull with a condition"))
		}
		if arg.Type == bson.TypeArray || arg.Type == bson.TypeEmbeddedDocument || arg.Type == bson.TypeRegex {
			return unsupported("$pull of a %s", arg.Type)
		}
	}
	return nil
}

// Apply returns doc with the update applied. $setOnInsert applies only when
// inserting is true.
func (u *Update) Apply(doc bson.Raw, inserting bool) (bson.Raw, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	d := make(bson.D, len(elems), len(elems)+len(u.ops))
	for i, e := range elems {
		d[i] = bson.E{Key: e.Key(), Value: e.Value()}
	}
	for _, o := range u.ops {
		i := slices.IndexFunc(d, func(e bson.E) bool { return e.Key == o.field })
		var cur bson.RawValue
		if i >= 0 {
			cur = d[i].Value.(bson.RawValue)
		}
		var (
			next  bson.RawValue
			unset bool
		)
		switch o.op {
		case "$set":
			next = o.arg
		case "$setOnInsert":
			if !inserting {
				continue
			}
			next = o.arg
		case "$unset":
			unset = true
		case "$inc":
			next, err = inc(o.field, cur, o.arg)
		case "$push":
			next, err = push(o.field, cur, o.arg)
		case "$pull":
			if i < 0 {
				continue
			}
			next, err = pull(o.field, cur, o.arg)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case unset && i >= 0:
			d = slices.Delete(d, i, i+1)
		case unset:
		case i >= 0:
			d[i].Value = next
		default:
			d = append(d, bson.E{Key: o.field, Value: next})
		}
	}
	return bson.Marshal(d)
}

func rawValue(v any) bson.RawValue {
	t, b, err := bson.MarshalValue(v)
	if err != nil {
		panic(err) // only called with values bson always marshals
	}
	return bson.RawValue{Type: t, Value: b}
}

// inc adds n to cur as MongoDB does: a missing field becomes n; int32 plus
// int32 stays int32 unless it overflows, int64 wins over int32, a double
// makes a double.
func inc(field string, cur, n bson.RawValue) (bson.RawValue, error) {
	if cur.Type == 0 {
		return n, nil
	}
	if bracket(cur) != bracketNumber {
		return bson.RawValue{}, fmt.Errorf("cannot apply $inc to the non-numeric field %q", field)
	}
	if cur.Type == bson.TypeDouble || n.Type == bson.TypeDouble {
		return rawValue(floatValue(cur) + floatValue(n)), nil
	}
	a, _ := intValue(cur)
	b, _ := intValue(n)
	sum := a + b
	if (b > 0 && sum < a) || (b < 0 && sum > a) {
		return bson.RawValue{}, unsupported("$inc overflowing int64 on %q", field)
	}
	if cur.Type == bson.TypeInt32 && n.Type == bson.TypeInt32 && sum >= math.MinInt32 && sum <= math.MaxInt32 {
		return rawValue(int32(sum)), nil
	}
	return rawValue(sum), nil
}

func push(field string, cur, arg bson.RawValue) (bson.RawValue, error) {
	add := []bson.RawValue{arg}
	if arg.Type == bson.TypeEmbeddedDocument {
		if each, err := arg.Document().LookupErr("$each"); err == nil {
			add = elements(each)
		}
	}
	var arr bson.A
	switch cur.Type {
	case 0:
	case bson.TypeArray:
		for _, el := range elements(cur) {
			arr = append(arr, el)
		}
	default:
		return bson.RawValue{}, fmt.Errorf("cannot $push to the non-array field %q", field)
	}
	for _, el := range add {
		arr = append(arr, el)
	}
	if arr == nil {
		arr = bson.A{}
	}
	return rawValue(arr), nil
}

func pull(field string, cur, arg bson.RawValue) (bson.RawValue, error) {
	if cur.Type != bson.TypeArray {
		return bson.RawValue{}, fmt.Errorf("cannot $pull from the non-array field %q", field)
	}
	arr := bson.A{}
	for _, el := range elements(cur) {
		if !equalValues(el, arg) {
			arr = append(arr, el)
		}
	}
	return rawValue(arr), nil
}

// Upsert returns the document an upsert inserts when nothing matches filter:
// the filter's equality conditions on top-level fields (also inside $and),
// then the update applied with $setOnInsert, and an ObjectID _id first if
// neither gave one.
func Upsert(filter bson.Raw, u *Update) (bson.Raw, error) {
	f, err := Compile(filter)
	if err != nil {
		return nil, err
	}
	var seed bson.D
	f.eachField(func(c *field) {
		for _, op := range c.ops {
			if e, ok := op.(eq); ok && !slices.ContainsFunc(seed, func(x bson.E) bool { return x.Key == c.name }) {
				seed = append(seed, bson.E{Key: c.name, Value: e.want})
			}
		}
	})
	base, err := bson.Marshal(seed)
	if err != nil {
		return nil, err
	}
	doc, err := u.Apply(base, true)
	if err != nil {
		return nil, err
	}
	return withIDFirst(doc)
}

// withIDFirst moves _id to the front of doc, generating an ObjectID if it
// has none, as the server stores documents.
func withIDFirst(doc bson.Raw) (bson.Raw, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	if len(elems) > 0 && elems[0].Key() == "_id" {
		return doc, nil
	}
	d := bson.D{{Key: "_id", Value: bson.NewObjectID()}}
	for _, e := range elems {
		if e.Key() == "_id" {
			d[0].Value = e.Value()
			continue
		}
		d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return bson.Marshal(d)
}
