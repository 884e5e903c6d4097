package qualification

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
)

// Service applies the qualification rules.
type Service struct {
	store   Store
	users   Users
	holders Holders
	tasks   Tasks
	log     *slog.Logger
	now     func() time.Time
}

// Deps is what a Service is built with.
type Deps struct {
	Store   Store
	Users   Users
	Holders Holders // keeps the copy of each worker's scores with the worker
	Tasks   Tasks   // tells whether an open task or job requires a type
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: d.Store, users: d.Users, holders: d.Holders, tasks: d.Tasks, log: d.Log, now: now}
}

// sync rewrites the copy of the worker's scores kept with them from their
// grants, after a grant changed.
func (s *Service) sync(ctx context.Context, workerID string) error {
	return s.holders.SyncQualifications(ctx, workerID, func(ctx context.Context) (map[string]int, error) {
		return s.store.Scores(ctx, workerID)
	})
}

// Requirable is nil if the buyer may require the type in their tasks:
// their own, or another buyer's public one, which workers can earn
// themselves (it has a test or is granted on request). Another buyer's
// private type (granted by its owner only: their own list of workers) is
// not found, as a missing one. It implements task.QualificationTypes.
func (s *Service) Requirable(ctx context.Context, buyerID, typeID string) error {
	t, err := s.store.ByID(ctx, typeID)
	switch {
	case err != nil:
		return err
	case t.OwnerID == buyerID || t.Public():
		return nil
	}
	return ErrNotRequirable
}

// Public reports whether workers can earn the type themselves: it has a
// test, or is granted on request. Only public types of other buyers may
// be required in a task.
func (t Type) Public() bool { return t.Test != nil || t.AutoGrant != nil }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Draft is a type as its owner writes it.
type Draft struct {
	Name        string
	Description string
	Test        *Test
	AutoGrant   *int
}

// check returns an Invalid error listing every field out of its bounds.
func (d *Draft) check() error {
	d.Name, d.Description = strings.TrimSpace(d.Name), strings.TrimSpace(d.Description)
	var f apperr.Fields
	f.Text("name", d.Name, MaxNameLen)
	f.MaxText("description", d.Description, MaxDescriptionLen)
	if d.AutoGrant != nil && (*d.AutoGrant < 0 || *d.AutoGrant > MaxValue) {
		f.Add("auto_grant_value", "must be from 0 to %d", MaxValue)
	}
	if d.Test != nil && d.AutoGrant != nil {
		f.Add("auto_grant_value", "a type with a test grants the score of its test; leave auto_grant_value out")
	}
	if t := d.Test; t != nil {
		switch n := len(t.Questions); {
		case n == 0:
			f.Add("test.questions", "must have at least one question")
		case n > MaxQuestions:
			f.Add("test.questions", "must have at most %d questions", MaxQuestions)
		}
		for i := range t.Questions {
			q := &t.Questions[i]
			at := fmt.Sprintf("test.questions[%d]", i)
			q.Prompt = strings.TrimSpace(q.Prompt)
			f.Text(at+".prompt", q.Prompt, MaxPromptLen)
			if n := len(q.Choices); n < MinChoices || n > MaxChoices {
				f.Add(at+".choices", "must have %d to %d choices", MinChoices, MaxChoices)
			}
			for j := range q.Choices {
				q.Choices[j] = strings.TrimSpace(q.Choices[j])
				if c := q.Choices[j]; c == "" || utf8.RuneCountInString(c) > MaxChoiceLen {
					f.Add(at+".choices", "each must be 1 to %d characters", MaxChoiceLen)
					break
				}
			}
			if q.Answer < 0 || q.Answer >= len(q.Choices) {
				f.Add(at+".answer", "must be the index of one of the choices, from 0")
			}
		}
		if t.PassScore < 0 || t.PassScore > MaxValue {
			f.Add("test.pass_score", "must be from 0 to %d", MaxValue)
		}
		if t.RetryAfter < 0 || t.RetryAfter > MaxRetryHours*time.Hour || t.RetryAfter%time.Hour != 0 {
			f.Add("test.retry_after_hours", "must be whole hours from 0 to %d", MaxRetryHours)
		}
	}
	return f.Err()
}

// Create makes a qualification type owned by the buyer.
func (s *Service) Create(ctx context.Context, p auth.Principal, d Draft) (Type, error) {
	if !p.Is(auth.RoleBuyer) {
		return Type{}, auth.ErrWrongRole
	}
	if err := d.check(); err != nil {
		return Type{}, err
	}
	now := s.clock()
	t := Type{ID: idgen.New(), OwnerID: p.UserID, Name: d.Name, Description: d.Description, Test: d.Test, AutoGrant: d.AutoGrant,
		CreatedAt: now, UpdatedAt: now}
	if err := s.store.Insert(ctx, t); err != nil {
		return Type{}, fmt.Errorf("insert qualification type: %w", err)
	}
	s.log.InfoContext(ctx, "qualification type created", "qualification_id", t.ID)
	return t, nil
}

// Get returns a type. Only its owner sees the answers of its test
// (Type.ForWorkers hides them from the others).
func (s *Service) Get(ctx context.Context, id string) (Type, error) {
	return s.store.ByID(ctx, id)
}

// Answers reports whether p may see the answers of t's test: its owner.
func (t Type) Answers(p auth.Principal) bool { return p.UserID == t.OwnerID && p.UserID != "" }

// List returns a page of types: the buyer's own (mine), or everyone's.
func (s *Service) List(ctx context.Context, p auth.Principal, mine bool, query string, r page.Request) (page.Of[Type], error) {
	query = strings.TrimSpace(query)
	if utf8.RuneCountInString(query) > MaxQueryLen {
		return page.Of[Type]{}, apperr.InvalidFields(apperr.FieldError{Field: "q", Message: fmt.Sprintf("must be at most %d characters", MaxQueryLen)})
	}
	f := Filter{Query: query}
	if mine {
		if !p.Is(auth.RoleBuyer) {
			return page.Of[Type]{}, auth.ErrWrongRole
		}
		f.OwnerID = p.UserID
	}
	items, total, err := s.store.List(ctx, f, r)
	if err != nil {
		return page.Of[Type]{}, fmt.Errorf("list qualification types: %w", err)
	}
	return page.Of[Type]{Items: items, Request: r, Total: total}, nil
}

// own returns the buyer's type; someone else's is not found.
func (s *Service) own(ctx context.Context, p auth.Principal, id string) (Type, error) {
	t, err := s.store.ByID(ctx, id)
	if err == nil && t.OwnerID != p.UserID {
		return Type{}, ErrNotFound
	}
	return t, err
}

// Edit changes a type; a nil field stays. Clearing the test or the
// auto-grant value goes through ClearTest and ClearAutoGrant.
type Edit struct {
	Name           *string
	Description    *string
	Test           *Test
	ClearTest      bool
	AutoGrant      *int
	ClearAutoGrant bool
}

// Update changes the owner's type. Grants already given stay.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, e Edit) (Type, error) {
	t, err := s.own(ctx, p, id)
	if err != nil {
		return Type{}, err
	}
	d := Draft{Name: t.Name, Description: t.Description, Test: t.Test, AutoGrant: t.AutoGrant}
	if e.Name != nil {
		d.Name = *e.Name
	}
	if e.Description != nil {
		d.Description = *e.Description
	}
	if e.Test != nil {
		d.Test = e.Test
	}
	if e.ClearTest {
		d.Test = nil
	}
	if e.AutoGrant != nil {
		d.AutoGrant = e.AutoGrant
	}
	if e.ClearAutoGrant {
		d.AutoGrant = nil
	}
	if err := d.check(); err != nil {
		return Type{}, err
	}
	t.Name, t.Description, t.Test, t.AutoGrant, t.UpdatedAt = d.Name, d.Description, d.Test, d.AutoGrant, s.clock()
	if err := s.store.Replace(ctx, t); err != nil {
		return Type{}, fmt.Errorf("update qualification type %s: %w", id, err)
	}
	return t, nil
}

// Delete deletes the owner's type with its grants, unless an open task
// or job (anyone's) requires it: ErrRequired. The workers who held it lose it
// from the copy of their scores too.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	if _, err := s.own(ctx, p, id); err != nil {
		return err
	}
	switch required, err := s.tasks.RequiredByOpenTask(ctx, id); {
	case err != nil:
		return fmt.Errorf("look for open tasks requiring %s: %w", id, err)
	case required:
		return ErrRequired
	}
	holders, err := s.store.Holders(ctx, id)
	if err != nil {
		return fmt.Errorf("read holders of %s: %w", id, err)
	}
	if err := s.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete qualification type %s: %w", id, err)
	}
	for _, w := range holders {
		if err := s.sync(ctx, w); err != nil {
			return fmt.Errorf("delete qualification type %s: %w", id, err)
		}
	}
	s.log.InfoContext(ctx, "qualification type deleted", "qualification_id", id)
	return nil
}

// Grant sets a worker's score on the owner's type (0 to 100).
func (s *Service) Grant(ctx context.Context, p auth.Principal, id, workerID string, value int) (Grant, error) {
	t, err := s.own(ctx, p, id)
	if err != nil {
		return Grant{}, err
	}
	if value < 0 || value > MaxValue {
		return Grant{}, apperr.InvalidFields(apperr.FieldError{Field: "value", Message: fmt.Sprintf("must be from 0 to %d", MaxValue)})
	}
	w, err := s.users.Get(ctx, workerID)
	if err != nil || w.Role != auth.RoleWorker {
		if err == nil || apperr.KindOf(err) == apperr.NotFound {
			return Grant{}, ErrNotAWorker
		}
		return Grant{}, fmt.Errorf("read user %s: %w", workerID, err)
	}
	g := Grant{TypeID: t.ID, TypeName: t.Name, OwnerID: t.OwnerID, WorkerID: w.ID, WorkerName: w.Name, Value: value, Source: SourceOwner,
		GrantedAt: s.clock()}
	if err := s.store.Grant(ctx, g); err != nil {
		return Grant{}, fmt.Errorf("grant %s to %s: %w", t.ID, w.ID, err)
	}
	if err := s.sync(ctx, w.ID); err != nil {
		return Grant{}, fmt.Errorf("grant %s to %s: %w", t.ID, w.ID, err)
	}
	return g, nil
}

// Revoke takes a worker's score on the owner's type away.
func (s *Service) Revoke(ctx context.Context, p auth.Principal, id, workerID string) error {
	if _, err := s.own(ctx, p, id); err != nil {
		return err
	}
	ok, err := s.store.Revoke(ctx, id, workerID)
	if err != nil {
		return fmt.Errorf("revoke %s of %s: %w", id, workerID, err)
	}
	if err := s.sync(ctx, workerID); err != nil {
		return fmt.Errorf("revoke %s of %s: %w", id, workerID, err)
	}
	if !ok {
		return ErrGrantNotFound
	}
	return nil
}

// Grants returns a page of the owner's type's grants.
func (s *Service) Grants(ctx context.Context, p auth.Principal, id string, r page.Request) (page.Of[Grant], error) {
	if _, err := s.own(ctx, p, id); err != nil {
		return page.Of[Grant]{}, err
	}
	items, total, err := s.store.Grants(ctx, id, r)
	if err != nil {
		return page.Of[Grant]{}, fmt.Errorf("list grants of %s: %w", id, err)
	}
	return page.Of[Grant]{Items: items, Request: r, Total: total}, nil
}

// Mine returns a page of the worker's scores.
func (s *Service) Mine(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Grant], error) {
	if !p.Is(auth.RoleWorker) {
		return page.Of[Grant]{}, auth.ErrWrongRole
	}
	items, total, err := s.store.WorkerGrants(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Grant]{}, fmt.Errorf("list grants of worker %s: %w", p.UserID, err)
	}
	return page.Of[Grant]{Items: items, Request: r, Total: total}, nil
}

// Take grades a worker's attempt at a type's test at once: the score is
// the share of right answers, and one that reaches the pass score is
// granted (a failed attempt leaves an earlier score as it is). A type
// without a test but with an auto-grant value grants it on request (no
// answers). Another attempt before the test's retry time is refused with
// RetryLater.
func (s *Service) Take(ctx context.Context, p auth.Principal, id string, answers []int) (Attempt, error) {
	if !p.Is(auth.RoleWorker) {
		return Attempt{}, auth.ErrWrongRole
	}
	t, err := s.store.ByID(ctx, id)
	if err != nil {
		return Attempt{}, err
	}
	var a Attempt
	var retry time.Duration
	switch {
	case t.Test != nil:
		if len(answers) != len(t.Test.Questions) {
			return Attempt{}, apperr.InvalidFields(apperr.FieldError{Field: "answers",
				Message: fmt.Sprintf("must answer each of the %d questions, in order, with the index of a choice", len(t.Test.Questions))})
		}
		right := 0
		for i, q := range t.Test.Questions {
			if answers[i] == q.Answer {
				right++
			}
		}
		a.Score = right * MaxValue / len(t.Test.Questions)
		a.Passed = a.Score >= t.Test.PassScore
		retry = t.Test.RetryAfter
	case t.AutoGrant != nil:
		if len(answers) != 0 {
			return Attempt{}, apperr.InvalidFields(apperr.FieldError{Field: "answers", Message: "this type has no test: send no answers"})
		}
		a.Score, a.Passed = *t.AutoGrant, true
	default:
		return Attempt{}, ErrNotRequestable
	}
	now := s.clock()
	ok, last, err := s.store.Attempt(ctx, t.ID, p.UserID, a.Score, now, now.Add(-retry))
	if err != nil {
		return Attempt{}, fmt.Errorf("record attempt at %s: %w", t.ID, err)
	}
	if !ok {
		left := last.Add(retry).Sub(now)
		return Attempt{}, RetryLater{Left: left.Truncate(time.Second) + time.Second}
	}
	a.RetryAt = now.Add(retry)
	if a.Passed {
		name := ""
		if w, err := s.users.Get(ctx, p.UserID); err == nil {
			name = w.Name
		}
		source := SourceTest
		if t.Test == nil {
			source = SourceAuto
		}
		g := Grant{TypeID: t.ID, TypeName: t.Name, OwnerID: t.OwnerID, WorkerID: p.UserID, WorkerName: name, Value: a.Score, Source: source,
			GrantedAt: now}
		if err := s.store.Grant(ctx, g); err != nil {
			return Attempt{}, fmt.Errorf("grant %s to %s: %w", t.ID, p.UserID, err)
		}
		if err := s.sync(ctx, p.UserID); err != nil {
			return Attempt{}, fmt.Errorf("grant %s to %s: %w", t.ID, p.UserID, err)
		}
		a.Granted = &g
	}
	return a, nil
}
