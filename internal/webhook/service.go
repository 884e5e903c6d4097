package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/platform/idgen"
	"microtask/internal/user"
)

// CacheTTL is how long the endpoints a user has enabled are remembered
// when other processes may change them (MongoDB): an endpoint made or
// changed through another instance receives events from this one within
// this long. Emit reads them for every event of every user, so that users
// without endpoints cost the operations that emit nothing. Which users have
// any endpoint at all is remembered as long, read in one find: most users
// have none, and an event to them (a message to anyone) then costs no read.
const CacheTTL = 5 * time.Second

// soleWriterCacheTTL replaces CacheTTL when this process alone writes the
// database: every change goes through it and drops what it remembered.
const soleWriterCacheTTL = time.Hour

// parallel is how many deliveries one instance posts at once.
const parallel = 8

// Service manages endpoints, stores deliveries and sends them.
type Service struct {
	store   Store
	sender  Sender
	encoder Encoder
	mailer  Mailer
	users   Users
	log     *slog.Logger
	now     func() time.Time

	ttl     time.Duration
	mu      sync.Mutex
	enabled map[string]cachedEndpoints // by user
	gen     uint64
	// owners are the users with an enabled endpoint, read at once until
	// ownersUntil; a change in this process adds its user (see forget).
	owners      map[string]bool
	ownersUntil time.Time
	ownersRead  sync.Mutex // one read of the owners at a time

	wake      chan struct{}
	failpoint func(step string) error // see InjectFailures
}

type cachedEndpoints struct {
	endpoints []Endpoint
	until     time.Time
}

// Deps is what a Service is built with.
type Deps struct {
	Store   Store
	Sender  Sender
	Encoder Encoder
	Mailer  Mailer // tells owners their endpoint was disabled
	Users   Users
	// SoleWriter says that no other process writes to the database, so
	// that the endpoints read once stay right until this process changes
	// them.
	SoleWriter bool
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{store: d.Store, sender: d.Sender, encoder: d.Encoder, mailer: d.Mailer, users: d.Users, log: d.Log, now: now,
		ttl: CacheTTL, enabled: map[string]cachedEndpoints{}, wake: make(chan struct{}, 1)}
	if d.SoleWriter {
		s.ttl = soleWriterCacheTTL
	}
	return s
}

// InjectFailures makes the delivery loop call f after every step
// ("claimed", "sent"); an error from f stops the round there, as a crash
// would. Tests use it; f is called from the goroutines that post at once.
// Call it before the loop runs.
func (s *Service) InjectFailures(f func(step string) error) { s.failpoint = f }

func (s *Service) step(name string) error {
	if s.failpoint == nil {
		return nil
	}
	return s.failpoint(name)
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// manager checks that p may have endpoints: a buyer or a worker.
func manager(p auth.Principal) error {
	if !p.Is(auth.RoleBuyer, auth.RoleWorker) {
		return auth.ErrWrongRole
	}
	return nil
}

// NewEndpoint is what an endpoint is made with.
type NewEndpoint struct {
	URL    string
	Events []EventType
}

func (s *Service) check(ctx context.Context, url *string, events *[]EventType) error {
	var f apperr.Fields
	if url != nil {
		*url = strings.TrimSpace(*url)
		if *url == "" {
			f.Add("url", "is required")
		} else if err := s.sender.Check(ctx, *url); err != nil {
			f.Add("url", "%s", err.Error())
		}
	}
	if events != nil {
		switch {
		case len(*events) == 0:
			f.Add("events", "must name at least one event")
		default:
			seen := map[EventType]bool{}
			for _, e := range *events {
				if !slices.Contains(Events, e) || seen[e] {
					names := make([]string, len(Events))
					for i, e := range Events {
						names[i] = string(e)
					}
					f.Add("events", "each must be one of: %s, none twice", strings.Join(names, ", "))
					break
				}
				seen[e] = true
			}
		}
	}
	return f.Err()
}

// Create makes an endpoint for p, at most MaxPerUser. Its secret is in
// the endpoint returned: the only time it is shown.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewEndpoint) (Endpoint, error) {
	if err := manager(p); err != nil {
		return Endpoint{}, err
	}
	if err := s.check(ctx, &in.URL, &in.Events); err != nil {
		return Endpoint{}, err
	}
	n, err := s.store.CountEndpoints(ctx, p.UserID)
	if err != nil {
		return Endpoint{}, fmt.Errorf("count endpoints of %s: %w", p.UserID, err)
	}
	if n >= MaxPerUser {
		return Endpoint{}, ErrTooMany
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return Endpoint{}, fmt.Errorf("make a secret: %w", err)
	}
	now := s.clock()
	e := Endpoint{ID: idgen.New(), UserID: p.UserID, URL: in.URL, Events: in.Events, Secret: "whsec_" + base64.RawURLEncoding.EncodeToString(b),
		Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := s.store.InsertEndpoint(ctx, e); err != nil {
		return Endpoint{}, fmt.Errorf("insert endpoint of %s: %w", p.UserID, err)
	}
	s.forget(p.UserID)
	s.log.InfoContext(ctx, "webhook endpoint created", "endpoint_id", e.ID)
	return e, nil
}

// own returns p's endpoint; someone else's is not found.
func (s *Service) own(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	if err := manager(p); err != nil {
		return Endpoint{}, err
	}
	e, err := s.store.Endpoint(ctx, id)
	if err == nil && e.UserID != p.UserID {
		return Endpoint{}, ErrNotFound
	}
	return e, err
}

// Get returns one of p's endpoints.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	return s.own(ctx, p, id)
}

// List returns a page of p's endpoints, newest first.
func (s *Service) List(ctx context.Context, p auth.Principal, r page.Request) (page.Of[Endpoint], error) {
	if err := manager(p); err != nil {
		return page.Of[Endpoint]{}, err
	}
	items, total, err := s.store.Endpoints(ctx, p.UserID, r)
	if err != nil {
		return page.Of[Endpoint]{}, fmt.Errorf("list endpoints of %s: %w", p.UserID, err)
	}
	return page.Of[Endpoint]{Items: items, Request: r, Total: total}, nil
}

// Edit changes an endpoint: a nil field stays.
type Edit struct {
	URL     *string
	Events  *[]EventType
	Enabled *bool // true enables a disabled endpoint again, its failures forgotten
}

// Update changes one of p's endpoints.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in Edit) (Endpoint, error) {
	e, err := s.own(ctx, p, id)
	if err != nil {
		return Endpoint{}, err
	}
	if err := s.check(ctx, in.URL, in.Events); err != nil {
		return Endpoint{}, err
	}
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.Events != nil {
		e.Events = *in.Events
	}
	now := s.clock()
	if in.Enabled != nil && *in.Enabled != e.Enabled {
		e.Enabled = *in.Enabled
		e.Failures, e.DisabledAt, e.DisabledReason = 0, time.Time{}, ""
		if !e.Enabled {
			e.DisabledAt, e.DisabledReason = now, "disabled by its owner"
		}
	}
	e.UpdatedAt = now
	if err := s.store.UpdateEndpoint(ctx, e); err != nil {
		return Endpoint{}, fmt.Errorf("update endpoint %s: %w", id, err)
	}
	s.forget(p.UserID)
	if !e.Enabled {
		if err := s.store.FailPending(ctx, e.ID, e.DisabledReason, now); err != nil {
			return Endpoint{}, fmt.Errorf("give up deliveries of endpoint %s: %w", id, err)
		}
	}
	return e, nil
}

// Delete deletes one of p's endpoints with its deliveries.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	if err := manager(p); err != nil {
		return err
	}
	ok, err := s.store.DeleteEndpoint(ctx, p.UserID, id)
	if err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	s.forget(p.UserID)
	if !ok {
		return ErrNotFound
	}
	return nil
}

// Test queues a webhook.test event for one of p's endpoints, whatever it
// subscribes to, and returns its delivery.
func (s *Service) Test(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	e, err := s.own(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	if !e.Enabled {
		return Delivery{}, ErrDisabled
	}
	now := s.clock()
	ds, err := s.deliveries(Event{ID: "evt_" + idgen.New(), Type: Test, At: now, Data: TestData{EndpointID: e.ID}}, []Endpoint{e}, now)
	if err != nil {
		return Delivery{}, err
	}
	if err := s.store.Enqueue(ctx, ds); err != nil {
		return Delivery{}, fmt.Errorf("queue test of endpoint %s: %w", id, err)
	}
	s.poke()
	return ds[0], nil
}

// Deliveries returns a page of the deliveries to one of p's endpoints,
// newest first.
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, id string, r page.Request) (page.Of[Delivery], error) {
	if _, err := s.own(ctx, p, id); err != nil {
		return page.Of[Delivery]{}, err
	}
	items, total, err := s.store.Deliveries(ctx, id, r)
	if err != nil {
		return page.Of[Delivery]{}, fmt.Errorf("list deliveries of endpoint %s: %w", id, err)
	}
	return page.Of[Delivery]{Items: items, Request: r, Total: total}, nil
}

// Retry sends one of p's deliveries again now, whatever its status: one
// attempt, not retried if it fails.
func (s *Service) Retry(ctx context.Context, p auth.Principal, deliveryID string) (Delivery, error) {
	if err := manager(p); err != nil {
		return Delivery{}, err
	}
	d, err := s.store.Delivery(ctx, deliveryID)
	if err == nil && d.UserID != p.UserID {
		err = ErrDeliveryNotFound
	}
	if err != nil {
		return Delivery{}, err
	}
	e, err := s.store.Endpoint(ctx, d.EndpointID)
	if errors.Is(err, ErrNotFound) {
		return Delivery{}, ErrDeliveryNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("read endpoint %s: %w", d.EndpointID, err)
	}
	if !e.Enabled {
		return Delivery{}, ErrDisabled
	}
	now := s.clock()
	if err := s.store.Resend(ctx, d.ID, now, now); err != nil {
		return Delivery{}, fmt.Errorf("resend delivery %s: %w", d.ID, err)
	}
	s.poke()
	return s.store.Delivery(ctx, d.ID)
}

// endpointsOf returns the user's enabled endpoints, through the cache.
func (s *Service) endpointsOf(ctx context.Context, userID string) ([]Endpoint, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.enabled[userID]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.endpoints, nil
	}
	owner, err := s.hasEndpoints(ctx, userID, now)
	if err != nil || !owner {
		return nil, err
	}
	eps, err := s.store.Enabled(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("read endpoints of %s: %w", userID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen { // no change since the read: it may be remembered
		if len(s.enabled) >= 10_000 {
			for id, c := range s.enabled {
				if now.After(c.until) {
					delete(s.enabled, id)
				}
			}
		}
		s.enabled[userID] = cachedEndpoints{endpoints: eps, until: now.Add(s.ttl)}
	}
	return eps, nil
}

// hasEndpoints reports whether userID may have an enabled endpoint, from
// the owners read at most ttl ago. A user made an owner through another
// instance since is missed for at most ttl, as with the endpoints.
func (s *Service) hasEndpoints(ctx context.Context, userID string, now time.Time) (bool, error) {
	s.mu.Lock()
	if now.Before(s.ownersUntil) {
		defer s.mu.Unlock()
		return s.owners[userID], nil
	}
	s.mu.Unlock()

	s.ownersRead.Lock()
	defer s.ownersRead.Unlock()
	s.mu.Lock()
	if now.Before(s.ownersUntil) { // read meanwhile by another call
		defer s.mu.Unlock()
		return s.owners[userID], nil
	}
	gen := s.gen
	s.mu.Unlock()
	ids, err := s.store.Owners(ctx)
	if err != nil {
		return false, fmt.Errorf("read the owners of endpoints: %w", err)
	}
	owners := make(map[string]bool, len(ids))
	for _, id := range ids {
		owners[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen { // no change since the read: it may be remembered
		s.owners, s.ownersUntil = owners, now.Add(s.ttl)
	}
	return owners[userID], nil
}

func (s *Service) forget(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.enabled, userID)
	if s.owners != nil {
		s.owners[userID] = true // read again at its next event
	}
	s.gen++
}

// Wants reports whether one of the user's endpoints takes events of type
// t: an event whose data costs a read is emitted only then.
func (s *Service) Wants(ctx context.Context, userID string, t EventType) (bool, error) {
	eps, err := s.endpointsOf(ctx, userID)
	return slices.ContainsFunc(eps, func(e Endpoint) bool { return e.Subscribes(t) }), err
}

// Emit stores a delivery of the event to each of the user's endpoints that
// take its type, in one write, and nothing, at no cost but a look at what
// it remembers, when none does. key names the change (an operation's id):
// the event's id derives from it and its type, so that emitting it again
// (a step run again after a crash) stores nothing twice. Call it from the
// step of the operation that makes the change.
func (s *Service) Emit(ctx context.Context, userID string, t EventType, key string, at time.Time, data any) error {
	eps, err := s.endpointsOf(ctx, userID)
	if err != nil {
		return err
	}
	eps = slices.DeleteFunc(slices.Clone(eps), func(e Endpoint) bool { return !e.Subscribes(t) })
	if len(eps) == 0 {
		return nil
	}
	ev := Event{ID: "evt_" + idgen.Derive("event", string(t), key), Type: t, At: at.UTC().Truncate(time.Millisecond), Data: data}
	ds, err := s.deliveries(ev, eps, s.clock())
	if err != nil {
		return err
	}
	if err := s.store.Enqueue(ctx, ds); err != nil {
		return fmt.Errorf("queue %s event %s: %w", t, ev.ID, err)
	}
	s.poke()
	return nil
}

// deliveries are the deliveries of ev to eps, made at now.
func (s *Service) deliveries(ev Event, eps []Endpoint, now time.Time) ([]Delivery, error) {
	body, err := s.encoder.Encode(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s event %s: %w", ev.Type, ev.ID, err)
	}
	ds := make([]Delivery, len(eps))
	for i, e := range eps {
		ds[i] = Delivery{ID: idgen.Derive("delivery", ev.ID, e.ID), EndpointID: e.ID, UserID: e.UserID, EventID: ev.ID, Type: ev.Type,
			Body: body, Status: Pending, NextAt: now, Deadline: now.Add(RetryFor), CreatedAt: now}
	}
	return ds, nil
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Deliver posts the deliveries due now, a few at a time, and returns how
// many were delivered.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	due, err := s.store.Due(ctx, s.clock(), 50)
	if err != nil {
		return 0, fmt.Errorf("read the webhook outbox: %w", err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		delivered int
		errs      []error
		slots     = make(chan struct{}, parallel)
	)
	for _, d := range due {
		// The claim waits for the disk like any write outside an
		// operation, and the database commits in order: once it is
		// durable, so is the delivery the operation stored before it.
		ok, err := s.store.Claim(ctx, d.ID, d.Attempts, s.clock().Add(claimFor))
		if err != nil {
			errs = append(errs, fmt.Errorf("claim delivery %s: %w", d.ID, err))
			continue
		}
		if !ok {
			continue // another instance took it
		}
		d.Attempts++
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ok, err := s.attempt(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				delivered++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return delivered, errors.Join(errs...)
}

// attempt posts a claimed delivery and records the outcome.
func (s *Service) attempt(ctx context.Context, d Delivery) (bool, error) {
	e, err := s.store.Endpoint(ctx, d.EndpointID)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, s.store.Finish(ctx, d.ID, Failed, 0, "the endpoint was deleted", s.clock())
	case err != nil:
		return false, fmt.Errorf("read endpoint %s: %w", d.EndpointID, err)
	case !e.Enabled:
		return false, s.store.Finish(ctx, d.ID, Failed, 0, "the endpoint is disabled", s.clock())
	}
	headers := map[string]string{
		"Content-Type":       "application/json",
		"User-Agent":         "Microtask-Webhooks/1.0",
		"Microtask-Event":    string(d.Type),
		"Microtask-Delivery": d.ID,
		SignatureHeader:      Sign(e.Secret, s.now(), d.Body),
	}
	code, err := s.sender.Post(ctx, e.URL, headers, d.Body)
	if ferr := s.step("sent"); ferr != nil {
		return false, ferr
	}
	now := s.clock()
	if err == nil && code >= 200 && code < 300 {
		if err := s.store.Finish(ctx, d.ID, Delivered, code, "", now); err != nil {
			return false, fmt.Errorf("mark delivery %s delivered: %w", d.ID, err)
		}
		if e.Failures > 0 {
			if err := s.store.Succeeded(ctx, e.ID, now); err != nil {
				return true, fmt.Errorf("record success of endpoint %s: %w", e.ID, err)
			}
		}
		return true, nil
	}
	why := fmt.Sprintf("the endpoint answered %d %s", code, http.StatusText(code))
	if err != nil {
		why = err.Error()
		code = 0
	}
	if err := s.store.FailedAttempt(ctx, e.ID); err != nil {
		return false, fmt.Errorf("count failure of endpoint %s: %w", e.ID, err)
	}
	next := now.Add(Backoff(d.Attempts))
	if !next.After(d.Deadline) {
		s.log.InfoContext(ctx, "webhook not delivered; will retry", "delivery_id", d.ID, "attempt", d.Attempts, "retry_at", next, "why", why)
		return false, s.store.Retry(ctx, d.ID, next, code, why)
	}
	s.log.WarnContext(ctx, "webhook not delivered; giving up", "delivery_id", d.ID, "attempt", d.Attempts, "why", why)
	if err := s.store.Finish(ctx, d.ID, Failed, code, why, now); err != nil {
		return false, fmt.Errorf("give up delivery %s: %w", d.ID, err)
	}
	// Every attempt of this delivery failed, over RetryFor, with no
	// delivery to the endpoint succeeding since the first of them: the
	// endpoint is down, not flaky.
	if e.Failures+1 >= d.Attempts {
		return false, s.disable(ctx, e, d, why, now)
	}
	return false, nil
}

// disable disables an endpoint that has failed for RetryFor, gives up its
// pending deliveries and mails its owner, once.
func (s *Service) disable(ctx context.Context, e Endpoint, d Delivery, why string, now time.Time) error {
	reason := fmt.Sprintf("every delivery failed for %s (last: %s)", RetryFor, why)
	// The mail first, under an id of this delivery: a crash before the
	// endpoint is disabled repeats no mail when the next round does it.
	if u, err := s.users.Get(ctx, e.UserID); err == nil && u.Status == user.StatusActive && u.Email != "" {
		text := fmt.Sprintf("Hello %s,\n\nYour webhook endpoint %s failed every delivery for %s, so it is disabled and gets no more events.\n"+
			"The last failure: %s.\n\nFix it, then enable it again (PATCH /api/webhooks/%s {\"enabled\": true}) and retry the deliveries "+
			"it missed (POST /api/webhook-deliveries/{id}/retry).\n", u.Name, e.URL, RetryFor, why, e.ID)
		if err := s.mailer.MailOnce(ctx, "webhook-disabled:"+d.ID, u.Email, "Your webhook endpoint was disabled", text); err != nil {
			return fmt.Errorf("mail the owner of endpoint %s: %w", e.ID, err)
		}
	}
	ok, err := s.store.Disable(ctx, e.ID, reason, now)
	if err != nil {
		return fmt.Errorf("disable endpoint %s: %w", e.ID, err)
	}
	s.forget(e.UserID)
	if !ok {
		return nil
	}
	s.log.WarnContext(ctx, "webhook endpoint disabled", "endpoint_id", e.ID, "user_id", e.UserID)
	return s.store.FailPending(ctx, e.ID, "the endpoint was disabled", now)
}

// Run delivers whenever an event is queued here and every interval (for
// retries, and for deliveries other instances queued), until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "webhook delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// Forget deletes the deliveries delivered or given up over 30 days ago,
// and returns how many.
func (s *Service) Forget(ctx context.Context) (int64, error) {
	n, err := s.store.Forget(ctx, s.clock().Add(-keepFor))
	if err != nil {
		return 0, fmt.Errorf("forget old webhook deliveries: %w", err)
	}
	return n, nil
}
