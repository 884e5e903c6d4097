package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// optional is a field of an update (PUT or PATCH): a key left out of the
// body leaves the stored value alone, and null or "" clears it where it may
// be cleared. A plain string cannot tell a missing key from "", nor a *string
// a missing key from null.
type optional[T any] struct {
	Set   bool // the body had the key
	Value T    // its value, the zero value for null
}

// UnmarshalJSON is called only for keys the body has, null included.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		var zero T
		o.Value = zero
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ptr is nil when the key was left out, and otherwise points to the value.
func (o optional[T]) ptr() *T {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}

// trimmed returns the field with its text trimmed.
func trimmed(o optional[string]) optional[string] {
	o.Value = strings.TrimSpace(o.Value)
	return o
}

// registerOptional lets validation tags apply to an optional's value: a
// missing key is a nil pointer, skipped by omitnil and omitempty; a present
// one is its value, "" for null, so omitempty also skips a cleared field and
// omitnil does not. The tag "kept" refuses clearing a field that must not be
// empty: `validate:"omitnil,kept,..."`.
func registerOptional(v *validator.Validate) {
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		o := f.Interface().(optional[string])
		if !o.Set {
			return (*string)(nil)
		}
		return o.Value
	}, optional[string]{})
	_ = v.RegisterValidation("kept", func(fl validator.FieldLevel) bool { return fl.Field().String() != "" })
}
