// Package qualification lets a buyer say which workers are fit for their
// work, as Mechanical Turk's qualification types did: a type owned by its
// buyer, scores from 0 to 100 granted by the buyer by hand, or earned by a
// worker through the type's test (graded at once, answers never shown to
// workers), or granted on request at a fixed value.
//
// Tasks require scores (task.Requirements, the one rule of who may take a
// task): the service keeps a copy of each worker's scores with the worker
// (Holders), which that rule reads at no command, and refuses to delete a
// type an open task requires.
package qualification

import (
	"context"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/page"
	"microtask/internal/user"
)

// Type is a qualification type: what its buyer measures workers by.
type Type struct {
	ID          string
	OwnerID     string
	Name        string
	Description string
	Test        *Test // nil: no test
	// AutoGrant, if set, is the score granted at once to a worker who asks
	// (an attempt with no answers): a type without a test that anyone may
	// hold, to use as a list of workers who opted in.
	AutoGrant *int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Test is a type's test: multiple-choice questions, the score (the share
// of right answers, 0 to 100) that passes, and how long a worker waits
// between attempts.
type Test struct {
	Questions  []Question
	PassScore  int
	RetryAfter time.Duration
}

// Question is one multiple-choice question; Answer is the index of the
// right choice, which only the type's owner ever sees.
type Question struct {
	Prompt  string
	Choices []string
	Answer  int
}

// Grant is a worker's score on a type.
type Grant struct {
	TypeID     string
	TypeName   string
	OwnerID    string
	WorkerID   string
	WorkerName string
	Value      int
	Source     Source
	GrantedAt  time.Time
}

// Source says how a grant was given.
type Source string

// The sources of grants.
const (
	SourceOwner Source = "owner" // set by the type's owner
	SourceTest  Source = "test"  // earned by passing the test: the score
	SourceAuto  Source = "auto"  // granted on request (Type.AutoGrant)
)

// Attempt is the outcome of a worker's attempt at a type.
type Attempt struct {
	Score   int  // 0 to 100; AutoGrant's value for a type without a test
	Passed  bool // the score reached the pass score (always, on request)
	Granted *Grant
	RetryAt time.Time // when the worker may try again
}

// Bounds.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 2000
	MaxQuestions      = 50
	MaxPromptLen      = 500
	MinChoices        = 2
	MaxChoices        = 10
	MaxChoiceLen      = 200
	MaxValue          = 100
	MaxRetryHours     = 24 * 365
	MaxQueryLen       = 100
)

// Errors.
var (
	ErrNotFound       = apperr.New(apperr.NotFound, "qualification_not_found", "no such qualification type")
	ErrGrantNotFound  = apperr.New(apperr.NotFound, "grant_not_found", "the worker holds no score of this qualification type")
	ErrNotAWorker     = apperr.New(apperr.NotFound, "user_not_found", "no such worker")
	ErrNotRequestable = apperr.New(apperr.Conflict, "qualification_not_requestable",
		"this qualification type has no test and is not granted on request: only its owner grants it")
	ErrRetryLater = apperr.New(apperr.RateLimited, "retry_later",
		"you took this test recently; retry after the time in Retry-After")
	ErrRequired = apperr.New(apperr.Conflict, "qualification_required",
		"an open task or job requires this qualification type; close it or change its requirements first")
	ErrNotRequirable = apperr.New(apperr.NotFound, "qualification_not_found",
		"no such qualification type, or another buyer's private one (granted by its owner only)")
)

// RetryLater is ErrRetryLater with the time left, which the API sends as
// Retry-After.
type RetryLater struct {
	Left time.Duration
}

func (e RetryLater) Error() string { return ErrRetryLater.Error() }

// RetryAfter says how long to wait.
func (e RetryLater) RetryAfter() time.Duration { return e.Left }

// Unwrap lets errors.Is and errors.As find ErrRetryLater.
func (e RetryLater) Unwrap() error { return ErrRetryLater }

// Filter selects types for a list.
type Filter struct {
	OwnerID string // only this buyer's
	Query   string // words in the name, case-insensitive
}

// Store persists types, grants and attempts. storage.QualificationStore
// implements it.
type Store interface {
	// Insert adds a type.
	Insert(ctx context.Context, t Type) error
	// ByID returns a type. ErrNotFound if none.
	ByID(ctx context.Context, id string) (Type, error)
	// List returns a page of types matching f, newest first, and their count.
	List(ctx context.Context, f Filter, p page.Request) ([]Type, int64, error)
	// Replace stores t over the type of its ID, and gives its grants its
	// name. ErrNotFound if none.
	Replace(ctx context.Context, t Type) error
	// Delete deletes a type with its grants and attempts.
	Delete(ctx context.Context, id string) error

	// Grant sets the worker's grant of the type.
	Grant(ctx context.Context, g Grant) error
	// Revoke deletes the worker's grant. False if there was none.
	Revoke(ctx context.Context, typeID, workerID string) (bool, error)
	// Grants returns a page of a type's grants, newest first, and their count.
	Grants(ctx context.Context, typeID string, p page.Request) ([]Grant, int64, error)
	// WorkerGrants returns a page of a worker's grants, newest first, and
	// their count.
	WorkerGrants(ctx context.Context, workerID string, p page.Request) ([]Grant, int64, error)

	// Scores returns the worker's scores by type.
	Scores(ctx context.Context, workerID string) (map[string]int, error)
	// Holders returns the workers who hold a score of the type.
	Holders(ctx context.Context, typeID string) ([]string, error)

	// Attempt records an attempt by the worker at now, with its score,
	// unless they made one after notBefore: then false and when that one
	// was made.
	Attempt(ctx context.Context, typeID, workerID string, score int, now, notBefore time.Time) (ok bool, last time.Time, err error)
}

// Holders keeps the copy of each worker's scores with the worker, for the
// requirements of tasks; user.Service implements it.
type Holders interface {
	// SyncQualifications rewrites the worker's copy with what read returns.
	SyncQualifications(ctx context.Context, workerID string, read func(context.Context) (map[string]int, error)) error
}

// Tasks tells whether tasks or jobs require a type; the wiring implements
// it over task.Service and job.Service.
type Tasks interface {
	// RequiredByOpenTask reports whether an open task (paused or full
	// included) or an open job requires the type.
	RequiredByOpenTask(ctx context.Context, typeID string) (bool, error)
}

// Users reads users; user.Service implements it.
type Users interface {
	Get(ctx context.Context, id string) (user.User, error)
}
