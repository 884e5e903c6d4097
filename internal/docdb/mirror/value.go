package mirror

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoDB orders values of different types by type bracket, and compares
// values within a bracket; the numeric types form one bracket, so 5 (int32),
// 5 (int64) and 5.0 (double) are equal. A missing field sorts and matches as
// null.
const (
	bracketMinKey = iota
	bracketNull
	bracketNumber
	bracketString
	bracketDocument
	bracketArray
	bracketBinary
	bracketObjectID
	bracketBool
	bracketDate
	bracketTimestamp
	bracketRegex
	bracketOther // JavaScript, DBPointer, Decimal128...: compared by bytes within their type
	bracketMaxKey
)

func bracket(v bson.RawValue) int {
	switch v.Type {
	case 0, bson.TypeNull, bson.TypeUndefined: // 0: a missing field
		return bracketNull
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble:
		return bracketNumber
	case bson.TypeString, bson.TypeSymbol:
		return bracketString
	case bson.TypeEmbeddedDocument:
		return bracketDocument
	case bson.TypeArray:
		return bracketArray
	case bson.TypeBinary:
		return bracketBinary
	case bson.TypeObjectID:
		return bracketObjectID
	case bson.TypeBoolean:
		return bracketBool
	case bson.TypeDateTime:
		return bracketDate
	case bson.TypeTimestamp:
		return bracketTimestamp
	case bson.TypeRegex:
		return bracketRegex
	case bson.TypeMinKey:
		return bracketMinKey
	case bson.TypeMaxKey:
		return bracketMaxKey
	}
	return bracketOther
}

// compareValues orders two values as MongoDB's sort does for scalars: by
// bracket, then by value. Documents, arrays and the rare types compare by
// their bytes, which is enough for equality.
func compareValues(a, b bson.RawValue) int {
	ba, bb := bracket(a), bracket(b)
	if ba != bb {
		return cmp.Compare(ba, bb)
	}
	switch ba {
	case bracketNull, bracketMinKey, bracketMaxKey:
		return 0
	case bracketNumber:
		return compareNumbers(a, b)
	case bracketString:
		return bytes.Compare(stringBytes(a), stringBytes(b))
	case bracketBool:
		return cmp.Compare(a.Value[0], b.Value[0])
	case bracketDate:
		return cmp.Compare(int64LE(a.Value), int64LE(b.Value))
	case bracketObjectID:
		return bytes.Compare(a.Value, b.Value)
	case bracketTimestamp:
		// increment then time, both unsigned: compare as (time, increment)
		ta, tb := binary.LittleEndian.Uint32(a.Value[4:]), binary.LittleEndian.Uint32(b.Value[4:])
		if ta != tb {
			return cmp.Compare(ta, tb)
		}
		return cmp.Compare(binary.LittleEndian.Uint32(a.Value), binary.LittleEndian.Uint32(b.Value))
	}
	if a.Type != b.Type {
		return cmp.Compare(a.Type, b.Type)
	}
	return bytes.Compare(a.Value, b.Value)
}

// equalValues is MongoDB equality of two values.
func equalValues(a, b bson.RawValue) bool { return compareValues(a, b) == 0 }

func compareNumbers(a, b bson.RawValue) int {
	ai, aInt := intValue(a)
	bi, bInt := intValue(b)
	if aInt && bInt {
		return cmp.Compare(ai, bi)
	}
	af, bf := floatValue(a), floatValue(b)
	// MongoDB sorts NaN below every other number.
	switch an, bn := math.IsNaN(af), math.IsNaN(bf); {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return cmp.Compare(af, bf)
}

func intValue(v bson.RawValue) (int64, bool) {
	switch v.Type {
	case bson.TypeInt32:
		return int64(int32(binary.LittleEndian.Uint32(v.Value))), true
	case bson.TypeInt64:
		return int64LE(v.Value), true
	}
	return 0, false
}

func floatValue(v bson.RawValue) float64 {
	if i, ok := intValue(v); ok {
		return float64(i)
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v.Value))
}

func int64LE(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }

// stringBytes returns the bytes of a string or symbol value without copying
// them: a BSON string is its length (with the terminating NUL), its bytes
// and a NUL.
func stringBytes(v bson.RawValue) []byte {
	n := int(binary.LittleEndian.Uint32(v.Value))
	return v.Value[4 : 4+n-1]
}

// key returns a string that is the same for two values exactly when MongoDB
// finds them equal, for the hash indexes: one encoding per bracket, numbers
// by their float64 value (two int64 beyond 2^53 may share a key; the filter,
// evaluated on every candidate, tells them apart).
// Key returns the key under which the copy indexes v: equal keys for the
// values MongoDB's equality finds equal (1 and 1.0, say).
func Key(v bson.RawValue) string { return key(v) }

func key(v bson.RawValue) string {
	switch bracket(v) {
	case bracketNull:
		return "z"
	case bracketNumber:
		f := floatValue(v)
		if f == 0 {
			f = 0 // -0 and 0 are equal
		}
		var b [9]byte
		b[0] = 'n'
		binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
		return string(b[:])
	case bracketString:
		return "s" + string(stringBytes(v))
	}
	return string([]byte{'t', byte(v.Type)}) + string(v.Value)
}

// lookup returns the value of a top-level field; a missing field has Type 0.
func lookup(doc bson.Raw, field string) bson.RawValue {
	v, err := doc.LookupErr(field)
	if err != nil {
		return bson.RawValue{}
	}
	return v
}

// elements returns the values of an array.
func elements(v bson.RawValue) []bson.RawValue {
	vals, err := bson.Raw(v.Value).Values()
	if err != nil {
		return nil
	}
	return vals
}
