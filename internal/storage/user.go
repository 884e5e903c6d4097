package storage

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/auth"
	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/user"
)

// UserStore keeps the users collection. It implements user.Store.
type UserStore struct {
	users docdb.Collection
}

// NewUserStore returns the users store on d.
func NewUserStore(d *docdb.DB) *UserStore {
	return &UserStore{users: d.Collection("users")}
}

var _ user.Store = (*UserStore)(nil)

type userDoc struct {
	ID            string     `bson:"_id"`
	Name          string     `bson:"name"`
	Email         string     `bson:"email"`
	PhotoURL      string     `bson:"photo_url,omitempty"`
	Role          string     `bson:"role"`
	Status        string     `bson:"status"`
	TokenVersion  int64      `bson:"token_version"`
	PasswordHash  []byte     `bson:"password_hash,omitempty"`
	CreatedAt     time.Time  `bson:"created_at"`
	DeletedEmail  string     `bson:"deleted_email,omitempty"`
	DeletedAt     *time.Time `bson:"deleted_at,omitempty"`
	Ops           []string   `bson:"ops,omitempty"` // ledger operations committed on this user
	EmailVerified bool       `bson:"email_verified,omitempty"`
	GoogleLinked  bool       `bson:"google_linked,omitempty"`
	EmailOptIns   []string   `bson:"email_opt_ins,omitempty"`
	EmailOptOuts  []string   `bson:"email_opt_outs,omitempty"` // of the kinds mailed unless turned off
	// TokensChangedAt is when the user's tokens were last revoked, for the
	// other instances to drop what they cache of the user.
	TokensChangedAt *time.Time   `bson:"tokens_changed_at,omitempty"`
	RevokedTokens   []revokedDoc `bson:"revoked_tokens,omitempty"`
	RevokedSeq      int64        `bson:"revoked_seq,omitempty"` // guards the rewrite of revoked_tokens
	// The copy of the user's standing (user.Standing), and the count of
	// their record's additions it was worked out at, which guards it.
	Level       int64   `bson:"level,omitempty"`
	Rating      float64 `bson:"rating,omitempty"`
	Reviews     int64   `bson:"rating_count,omitempty"`
	Approved    int64   `bson:"approved,omitempty"`
	StandingSeq int64   `bson:"standing_seq,omitempty"`
	// The public profile (user.About), with the skills and languages also
	// as their keys (user.Key) for the worker search; the portfolio under
	// a count of its rewrites, which guards them; and the count of the
	// profile's viewers with the day it was counted.
	Headline       string         `bson:"headline,omitempty"`
	Bio            string         `bson:"bio,omitempty"`
	Skills         []string       `bson:"skills,omitempty"`
	SkillKeys      []string       `bson:"skill_keys,omitempty"`
	Languages      []string       `bson:"languages,omitempty"`
	LanguageKeys   []string       `bson:"language_keys,omitempty"`
	Country        string         `bson:"country,omitempty"`
	Company        string         `bson:"company,omitempty"`
	Website        string         `bson:"website,omitempty"`
	Portfolio      []portfolioDoc `bson:"portfolio,omitempty"`
	PortfolioSeq   int64          `bson:"portfolio_seq,omitempty"`
	ProfileViews   int64          `bson:"profile_views,omitempty"`
	ProfileViewsOn *time.Time     `bson:"profile_views_on,omitempty"`
	// The copy of the worker's qualification scores (user.User.
	// Qualifications), each "<type>=<score>", flat, under a count of its
	// rewrites, which guards them.
	Qualifications    []string `bson:"qualifications,omitempty"`
	QualificationsSeq int64    `bson:"qualifications_seq,omitempty"`
}

type portfolioDoc struct {
	ID          string    `bson:"id"`
	Title       string    `bson:"title"`
	Description string    `bson:"description,omitempty"`
	ImageURL    string    `bson:"image_url,omitempty"`
	Link        string    `bson:"link,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
}

type revokedDoc struct {
	ID        string    `bson:"id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func userFromDoc(d userDoc) user.User {
	u := user.User{ID: d.ID, Name: d.Name, Email: d.Email, PhotoURL: d.PhotoURL, Role: auth.Role(d.Role),
		Status: user.Status(d.Status), TokenVersion: d.TokenVersion, CreatedAt: d.CreatedAt,
		EmailVerified: d.EmailVerified, GoogleLinked: d.GoogleLinked, HasPassword: len(d.PasswordHash) > 0,
		EmailOptIns: d.EmailOptIns, EmailOptOuts: d.EmailOptOuts,
		Standing: user.Standing{Level: int(d.Level), Rating: d.Rating, Reviews: d.Reviews, Approved: d.Approved},
		About: user.About{Headline: d.Headline, Bio: d.Bio, Skills: d.Skills, Languages: d.Languages, Country: d.Country,
			Company: d.Company, Website: d.Website},
		ProfileViews: d.ProfileViews}
	if d.ProfileViewsOn != nil {
		u.ProfileViewsOn = *d.ProfileViewsOn
	}
	for _, q := range d.Qualifications {
		id, v, ok := strings.Cut(q, "=")
		if n, err := strconv.Atoi(v); ok && err == nil {
			if u.Qualifications == nil {
				u.Qualifications = map[string]int{}
			}
			u.Qualifications[id] = n
		}
	}
	for _, it := range d.Portfolio {
		u.Portfolio = append(u.Portfolio, user.PortfolioItem{ID: it.ID, Title: it.Title, Description: it.Description,
			ImageURL: it.ImageURL, Link: it.Link, CreatedAt: it.CreatedAt})
	}
	if len(d.RevokedTokens) > 0 {
		u.RevokedTokens = make(map[string]time.Time, len(d.RevokedTokens))
		for _, r := range d.RevokedTokens {
			u.RevokedTokens[r.ID] = r.ExpiresAt
		}
	}
	return u
}

// newUserDoc is a new user as stored.
func newUserDoc(u user.User, passwordHash []byte) userDoc {
	return userDoc{ID: u.ID, Name: u.Name, Email: u.Email, PhotoURL: u.PhotoURL,
		Role: string(u.Role), Status: string(u.Status), TokenVersion: u.TokenVersion, PasswordHash: passwordHash,
		CreatedAt: u.CreatedAt, EmailVerified: u.EmailVerified, GoogleLinked: u.GoogleLinked, EmailOptIns: u.EmailOptIns, EmailOptOuts: u.EmailOptOuts}
}

// Insert implements user.Store.
func (s *UserStore) Insert(ctx context.Context, u user.User, passwordHash []byte) error {
	err := s.users.InsertOne(ctx, newUserDoc(u, passwordHash))
	if docdb.IsDuplicate(err) {
		return user.ErrEmailTaken
	}
	return err
}

// InsertMany adds users in one command, as Insert adds one, without a
// password: users made outside sign-up (the load generator's seed), who
// cannot sign in with one. The first duplicate ID or email stops it with
// user.ErrEmailTaken; those before it stay.
func (s *UserStore) InsertMany(ctx context.Context, users []user.User) error {
	docs := make([]any, len(users))
	for i, u := range users {
		docs[i] = newUserDoc(u, nil)
	}
	err := s.users.InsertMany(ctx, docs, true)
	if docdb.IsDuplicate(err) {
		return user.ErrEmailTaken
	}
	return err
}

func (s *UserStore) one(ctx context.Context, filter bson.D) (userDoc, error) {
	var d userDoc
	err := s.users.FindOne(ctx, filter, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return userDoc{}, user.ErrNotFound
	}
	return d, err
}

// ByID implements user.Store.
func (s *UserStore) ByID(ctx context.Context, id string) (user.User, error) {
	d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
	return userFromDoc(d), err
}

// ByIDs implements user.Store.
func (s *UserStore) ByIDs(ctx context.Context, ids []string) ([]user.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return docdb.FindAll(ctx, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, docdb.Query{}, userFromDoc)
}

// Credentials implements user.Store.
func (s *UserStore) Credentials(ctx context.Context, email string) (user.User, []byte, error) {
	d, err := s.one(ctx, bson.D{{Key: "email", Value: email}})
	if err != nil {
		return user.User{}, nil, err
	}
	return userFromDoc(d), d.PasswordHash, nil
}

// UpdateProfile implements user.Store.
func (s *UserStore) UpdateProfile(ctx context.Context, id string, pr user.Profile) (user.User, error) {
	set := setFields(field{"name", pr.Name}, field{"photo_url", pr.PhotoURL}, field{"headline", pr.Headline}, field{"bio", pr.Bio},
		field{"country", pr.Country}, field{"company", pr.Company}, field{"website", pr.Website})
	for _, l := range []struct {
		name, keys string
		v          *[]string
	}{{"skills", "skill_keys", pr.Skills}, {"languages", "language_keys", pr.Languages}} {
		if l.v != nil {
			keys := make([]string, len(*l.v))
			for i, v := range *l.v {
				keys[i] = user.Key(v)
			}
			set = append(set, bson.E{Key: l.name, Value: nonNil(*l.v)}, bson.E{Key: l.keys, Value: keys})
		}
	}
	if len(set) == 0 {
		u, err := s.ByID(ctx, id)
		if err == nil && u.Status == user.StatusDeleted {
			err = user.ErrNotFound
		}
		return u, err
	}
	n, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}}},
		bson.D{{Key: "$set", Value: set}}, false)
	if err != nil {
		return user.User{}, err
	}
	if n == 0 {
		return user.User{}, user.ErrNotFound
	}
	return s.ByID(ctx, id)
}

// ChangeAccount implements user.Store. On deletion the email moves to
// deleted_email and a placeholder takes its place in the unique index, so the
// address can sign up again.
func (s *UserStore) ChangeAccount(ctx context.Context, c user.AccountChange) (bool, error) {
	set := bson.D{{Key: "status", Value: string(c.Status)}, {Key: "tokens_changed_at", Value: c.At}}
	if c.Role != "" {
		set = append(set, bson.E{Key: "role", Value: string(c.Role)})
	}
	if c.Status == user.StatusDeleted {
		set = append(set,
			bson.E{Key: "email", Value: "deleted-" + c.ID + "@deleted.invalid"},
			bson.E{Key: "deleted_email", Value: c.Email},
			bson.E{Key: "deleted_at", Value: c.At})
	}
	return docdb.CommitOnce(ctx, s.users, c.ID,
		bson.D{
			{Key: "_id", Value: c.ID},
			{Key: "ops", Value: bson.D{{Key: "$ne", Value: c.Op}}},
			{Key: "token_version", Value: c.Version},
			{Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}},
		},
		bson.D{
			{Key: "$set", Value: set},
			{Key: "$inc", Value: bson.D{{Key: "token_version", Value: int64(1)}}},
			{Key: "$push", Value: bson.D{{Key: "ops", Value: c.Op}}},
		},
		func(d userDoc) bool { return slices.Contains(d.Ops, c.Op) })
}

// List implements user.Store: one find and one count. Search words are
// matched literally.
func (s *UserStore) List(ctx context.Context, f user.Filter, p page.Request) ([]user.User, int64, error) {
	q := bson.D{}
	if f.Role != "" {
		q = append(q, bson.E{Key: "role", Value: string(f.Role)})
	}
	if f.Status != "" {
		q = append(q, bson.E{Key: "status", Value: string(f.Status)})
	}
	if f.Query != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Query), Options: "i"}
		q = append(q, bson.E{Key: "$or", Value: bson.A{bson.D{{Key: "name", Value: re}}, bson.D{{Key: "email", Value: re}}}})
	}
	return docdb.FindPage(ctx, s.users, q, newestFirst, p, userFromDoc)
}

// EachPhotoURL implements user.Store: every user's, deleted ones included.
func (s *UserStore) EachPhotoURL(ctx context.Context, fn func(string) error) error {
	return docdb.Each(ctx, s.users, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "photo_url", Value: bson.D{{Key: "$gt", Value: ""}}}},
		bson.D{{Key: "portfolio", Value: bson.D{{Key: "$exists", Value: true}}}},
	}}},
		docdb.Query{Fields: []string{"photo_url", "portfolio"}}, func(d struct {
			PhotoURL  string         `bson:"photo_url"`
			Portfolio []portfolioDoc `bson:"portfolio"`
		}) error {
			if d.PhotoURL != "" {
				if err := fn(d.PhotoURL); err != nil {
					return err
				}
			}
			for _, it := range d.Portfolio {
				if it.ImageURL != "" {
					if err := fn(it.ImageURL); err != nil {
						return err
					}
				}
			}
			return nil
		})
}

// CountByRole counts the users of a role who are not deleted.
func (s *UserStore) CountByRole(ctx context.Context, role auth.Role) (int64, error) {
	return s.users.Count(ctx, bson.D{{Key: "role", Value: string(role)}, {Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}}})
}

// SetEmailVerified implements user.Store.
func (s *UserStore) SetEmailVerified(ctx context.Context, id string) error {
	n, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email_verified", Value: true}}}}, false)
	if err == nil && n == 0 {
		return user.ErrNotFound
	}
	return err
}

// ChangeTokens implements user.Store: one conditional update.
func (s *UserStore) ChangeTokens(ctx context.Context, c user.TokenChange) (bool, error) {
	set := bson.D{{Key: "tokens_changed_at", Value: c.At}}
	if c.PasswordHash != nil {
		set = append(set, bson.E{Key: "password_hash", Value: c.PasswordHash})
	}
	if c.EmailVerified {
		set = append(set, bson.E{Key: "email_verified", Value: true})
	}
	if c.GoogleLinked {
		set = append(set, bson.E{Key: "google_linked", Value: true})
	}
	n, err := s.users.UpdateOne(ctx,
		bson.D{
			{Key: "_id", Value: c.ID},
			{Key: "token_version", Value: c.Version},
			{Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}},
		},
		bson.D{
			{Key: "$set", Value: set},
			{Key: "$inc", Value: bson.D{{Key: "token_version", Value: int64(1)}}},
			// Tokens signed out one by one are revoked with all the others now.
			{Key: "$unset", Value: bson.D{{Key: "revoked_tokens", Value: ""}}},
		}, false)
	return n == 1, err
}

// RevokeToken implements user.Store. The list is rewritten whole, pruned of
// what has expired, under a sequence number: two revocations at once cannot
// lose one, the later one reads again and retries.
func (s *UserStore) RevokeToken(ctx context.Context, id, tokenID string, expires, now time.Time) error {
	for range 5 {
		d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return err
		}
		list := []revokedDoc{{ID: tokenID, ExpiresAt: expires}}
		for _, r := range d.RevokedTokens {
			if r.ExpiresAt.After(now) && r.ID != tokenID {
				list = append(list, r)
			}
		}
		var seq any = d.RevokedSeq
		if d.RevokedSeq == 0 {
			seq = bson.D{{Key: "$exists", Value: false}}
		}
		n, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revoked_seq", Value: seq}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "revoked_tokens", Value: list}, {Key: "tokens_changed_at", Value: now}}},
				{Key: "$inc", Value: bson.D{{Key: "revoked_seq", Value: int64(1)}}},
			}, false)
		if err != nil || n == 1 {
			return err
		}
	}
	return errors.New("revoke token: the user keeps changing")
}

// TokensChangedSince implements user.Store.
func (s *UserStore) TokensChangedSince(ctx context.Context, t time.Time) ([]string, error) {
	return docdb.FindAll(ctx, s.users, bson.D{{Key: "tokens_changed_at", Value: bson.D{{Key: "$gte", Value: t}}}},
		docdb.Query{Fields: []string{"_id"}}, func(d struct {
			ID string `bson:"_id"`
		}) string {
			return d.ID
		})
}

func audienceFilter(roles []auth.Role, t time.Time) bson.D {
	rs := make(bson.A, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	return bson.D{{Key: "status", Value: string(user.StatusActive)}, {Key: "role", Value: bson.D{{Key: "$in", Value: rs}}},
		{Key: "created_at", Value: bson.D{{Key: "$lte", Value: t}}}}
}

// CountAudience implements user.Store.
func (s *UserStore) CountAudience(ctx context.Context, roles []auth.Role, t time.Time) (int64, error) {
	return s.users.Count(ctx, audienceFilter(roles, t))
}

// Audience implements user.Store (index users_status_role_id).
func (s *UserStore) Audience(ctx context.Context, roles []auth.Role, t time.Time, after string, limit int) ([]user.User, error) {
	q := append(audienceFilter(roles, t), bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	return docdb.FindAll(ctx, s.users, q, docdb.Query{Sort: bson.D{{Key: "_id", Value: 1}}, Limit: int64(limit),
		Fields: []string{"_id", "name", "email", "role", "status", "email_verified", "email_opt_ins", "email_opt_outs", "created_at"}}, userFromDoc)
}

// SetEmailOptIns implements user.Store.
func (s *UserStore) SetEmailOptIns(ctx context.Context, id string, optIns, optOuts []string) (user.User, error) {
	n, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: bson.D{{Key: "$ne", Value: string(user.StatusDeleted)}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email_opt_ins", Value: optIns}, {Key: "email_opt_outs", Value: optOuts}}}}, false)
	if err != nil {
		return user.User{}, err
	}
	if n == 0 {
		return user.User{}, user.ErrNotFound
	}
	return s.ByID(ctx, id)
}

// SetStanding implements user.Store: one update, unless a standing worked
// out at seq or later is there.
func (s *UserStore) SetStanding(ctx context.Context, id string, st user.Standing, seq int64) error {
	_, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "$or", Value: bson.A{
			bson.D{{Key: "standing_seq", Value: bson.D{{Key: "$lt", Value: seq}}}},
			bson.D{{Key: "standing_seq", Value: bson.D{{Key: "$exists", Value: false}}}},
		}}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "level", Value: int64(st.Level)}, {Key: "rating", Value: st.Rating}, {Key: "rating_count", Value: st.Reviews},
			{Key: "approved", Value: st.Approved}, {Key: "standing_seq", Value: seq},
		}}}, false)
	return err
}

// UpdatePortfolio implements user.Store. The portfolio is rewritten whole
// under a count of its rewrites: two changes at once cannot lose one, the
// later one reads again and retries.
func (s *UserStore) UpdatePortfolio(ctx context.Context, id string, change func([]user.PortfolioItem) ([]user.PortfolioItem, error)) (user.User, error) {
	for range 5 {
		d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return user.User{}, err
		}
		if d.Status == string(user.StatusDeleted) {
			return user.User{}, user.ErrNotFound
		}
		items, err := change(userFromDoc(d).Portfolio)
		if err != nil {
			return user.User{}, err
		}
		docs := make([]portfolioDoc, len(items))
		for i, it := range items {
			docs[i] = portfolioDoc{ID: it.ID, Title: it.Title, Description: it.Description, ImageURL: it.ImageURL, Link: it.Link,
				CreatedAt: it.CreatedAt}
		}
		var seq any = d.PortfolioSeq
		if d.PortfolioSeq == 0 {
			seq = bson.D{{Key: "$exists", Value: false}}
		}
		n, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "portfolio_seq", Value: seq}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "portfolio", Value: docs}}}, {Key: "$inc", Value: bson.D{{Key: "portfolio_seq", Value: int64(1)}}}}, false)
		if err != nil {
			return user.User{}, err
		}
		if n == 1 {
			d.Portfolio = docs
			return userFromDoc(d), nil
		}
	}
	return user.User{}, errors.New("update portfolio: the user keeps changing")
}

// SetQualifications implements user.Store.
func (s *UserStore) SetQualifications(ctx context.Context, id string, read func(context.Context) (map[string]int, error)) error {
	for range 5 {
		d, err := s.one(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return err
		}
		scores, err := read(ctx) // after the count is read: a rewrite that wins read every change before it
		if err != nil {
			return err
		}
		list := make([]string, 0, len(scores))
		for _, q := range slices.Sorted(maps.Keys(scores)) {
			list = append(list, q+"="+strconv.Itoa(scores[q]))
		}
		var seq any = d.QualificationsSeq
		if d.QualificationsSeq == 0 {
			seq = bson.D{{Key: "$exists", Value: false}}
		}
		n, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "qualifications_seq", Value: seq}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "qualifications", Value: list}}},
				{Key: "$inc", Value: bson.D{{Key: "qualifications_seq", Value: int64(1)}}}}, false)
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
	}
	return errors.New("set qualifications: the user keeps changing")
}

// SetProfileViews implements user.Store.
func (s *UserStore) SetProfileViews(ctx context.Context, id string, n int64, day time.Time) error {
	_, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "profile_views", Value: n}, {Key: "profile_views_on", Value: day}}}}, false)
	return err
}

// activeWorkers selects the users the worker search and boards show.
func activeWorkers() bson.D {
	return bson.D{{Key: "role", Value: string(auth.RoleWorker)}, {Key: "status", Value: string(user.StatusActive)}}
}

// byRating is the best rated first: the average, then how many reviews it
// counts.
var byRating = bson.D{{Key: "rating", Value: -1}, {Key: "rating_count", Value: -1}, {Key: "_id", Value: 1}}

// Workers implements user.Store: one find and one count. Search words are
// matched literally.
func (s *UserStore) Workers(ctx context.Context, f user.WorkerFilter, p page.Request) ([]user.User, int64, error) {
	q := activeWorkers()
	if len(f.Skills) > 0 {
		all := make(bson.A, len(f.Skills))
		for i, k := range f.Skills {
			all[i] = bson.D{{Key: "skill_keys", Value: k}} // an element of the array
		}
		q = append(q, bson.E{Key: "$and", Value: all})
	}
	if f.Country != "" {
		q = append(q, bson.E{Key: "country", Value: f.Country})
	}
	if f.Language != "" {
		q = append(q, bson.E{Key: "language_keys", Value: f.Language})
	}
	if f.MinRating > 0 {
		q = append(q, bson.E{Key: "rating", Value: bson.D{{Key: "$gte", Value: f.MinRating}}})
	}
	if f.MinLevel > 0 {
		q = append(q, bson.E{Key: "level", Value: bson.D{{Key: "$gte", Value: int64(f.MinLevel)}}})
	}
	if f.Query != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Query), Options: "i"}
		q = append(q, bson.E{Key: "$or", Value: bson.A{bson.D{{Key: "name", Value: re}}, bson.D{{Key: "headline", Value: re}}}})
	}
	sort := byRating
	switch f.Sort {
	case user.SortApproved:
		sort = bson.D{{Key: "approved", Value: -1}, {Key: "_id", Value: 1}}
	case user.SortNewest:
		sort = newestFirst
	}
	return docdb.FindPage(ctx, s.users, q, sort, p, userFromDoc)
}

// TopRated implements user.Store: one find.
func (s *UserStore) TopRated(ctx context.Context, minReviews int64, limit int) ([]user.User, error) {
	return docdb.FindAll(ctx, s.users,
		append(activeWorkers(), bson.E{Key: "rating_count", Value: bson.D{{Key: "$gte", Value: minReviews}}}),
		docdb.Query{Sort: byRating, Limit: int64(limit)}, userFromDoc)
}
