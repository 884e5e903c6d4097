package operation

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"microtask/internal/ledger"
)

// Kind is one kind of operation, whose data is a P: the capability that owns
// the business documents declares it, with the steps that change them, and
// the wiring registers it with the Engine (Define, Engine.Register).
//
// Every step must be idempotent: Recover may run it again after a crash, in
// the order Commit, Settle, even when Settle ran before.
type Kind[P any] struct {
	Name string // the part of operation ids before the colon
	// Commit makes the business change that decides the operation, with one
	// conditional write that records the operation's id on the document. It
	// returns true if the change is made now or was made before (even if
	// Settle has changed the document since), and false if the change no
	// longer applies, which cancels the operation: it ends with ErrCancelled
	// and leaves no record.
	Commit func(ctx context.Context, op Op[P]) (bool, error)
	// Revert undoes Commit after a debit came up short.
	Revert func(ctx context.Context, op Op[P]) error
	// Settle runs once every posting is applied, before the operation is
	// marked posted: follow-ups such as notifications, written with ids
	// derived from the operation's id.
	Settle func(ctx context.Context, op Op[P]) error
	// Retry lets an operation that failed for lack of coins run again when
	// asked again, with the postings and data asked for then: it moved
	// nothing, and its id still names the one business event, which pays at
	// most once. Without it, asking again replays the failure.
	Retry bool
}

// Op is an operation of a kind, with its data.
type Op[P any] struct {
	ID       string // "<kind>:<Ref>"
	Ref      string
	Postings []ledger.Posting
	Data     P
	At       time.Time // when it started
}

// Runner runs operations: the Engine, as the services see it.
type Runner interface {
	Run(ctx context.Context, req Request) (Result, error)
}

// Request asks for an operation to be run.
type Request struct {
	Kind     string
	Ref      string // the operation's id is Kind + ":" + Ref
	Postings []ledger.Posting
	Data     any // of the kind's data type
}

// ID returns the id of the operation asked for.
func (r Request) ID() string { return r.Kind + ":" + r.Ref }

// Run runs the operation of kind k called ref, moving postings, with data.
func (k Kind[P]) Run(ctx context.Context, r Runner, ref string, postings []ledger.Posting, data P) (Result, error) {
	return r.Run(ctx, Request{Kind: k.Name, Ref: ref, Postings: postings, Data: data})
}

// Definition is a kind as the Engine keeps it, its data type erased.
type Definition struct {
	name     string
	retry    bool
	dataType reflect.Type
	commit   func(context.Context, Record) (bool, error)
	revert   func(context.Context, Record) error
	settle   func(context.Context, Record) error
}

// Define returns the kind's definition, for Engine.Register.
func (k Kind[P]) Define() Definition {
	d := Definition{name: k.Name, retry: k.Retry, dataType: reflect.TypeFor[P]()}
	if k.Commit != nil {
		d.commit = func(ctx context.Context, r Record) (bool, error) {
			op, err := opOf[P](r)
			if err != nil {
				return false, err
			}
			return k.Commit(ctx, op)
		}
	}
	if k.Revert != nil {
		d.revert = func(ctx context.Context, r Record) error {
			op, err := opOf[P](r)
			if err != nil {
				return err
			}
			return k.Revert(ctx, op)
		}
	}
	if k.Settle != nil {
		d.settle = func(ctx context.Context, r Record) error {
			op, err := opOf[P](r)
			if err != nil {
				return err
			}
			return k.Settle(ctx, op)
		}
	}
	return d
}

// Name returns the kind's name.
func (d Definition) Name() string { return d.name }

func opOf[P any](r Record) (Op[P], error) {
	op := Op[P]{ID: r.ID, Ref: r.ID[len(r.Kind())+1:], Postings: r.Postings, At: r.CreatedAt}
	if r.Data == nil {
		return op, fmt.Errorf("operation %s has no data: it ended, or was recorded by an earlier version", r.ID)
	}
	if err := r.Data.Decode(&op.Data); err != nil {
		return op, fmt.Errorf("data of operation %s: %w", r.ID, err)
	}
	return op, nil
}

// inMemory is the data of an operation this process is running, before it
// has been read back from the store.
type inMemory struct{ v any }

func (m inMemory) Decode(v any) error {
	dst := reflect.ValueOf(v)
	src := reflect.ValueOf(m.v)
	if dst.Kind() != reflect.Pointer || !src.Type().AssignableTo(dst.Elem().Type()) {
		return fmt.Errorf("cannot decode %s into %s", src.Type(), dst.Type())
	}
	dst.Elem().Set(src)
	return nil
}
