package user

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/ledger"
	"microtask/internal/page"
)

// About is what a user tells about themselves on their public profile,
// workers and buyers alike.
type About struct {
	Headline  string
	Bio       string
	Skills    []string // as written, trimmed, no two alike but for case
	Languages []string // likewise
	Country   string   // ISO 3166-1 alpha-2, upper case; "" for none
	Company   string
	Website   string // an https URL; "" for none
}

// PortfolioItem is a piece of work a user shows on their profile.
type PortfolioItem struct {
	ID          string
	Title       string
	Description string
	ImageURL    string // an image stored through this server (Images.Hosted); "" for none
	Link        string // an https URL; "" for none
	CreatedAt   time.Time
}

// Bounds of a profile, in characters. The service checks them; the API's
// profileRequest and portfolioRequest tags repeat the simple ones.
const (
	MaxHeadlineLen    = 120
	MaxBioLen         = 2000
	MaxSkills         = 20
	MaxSkillLen       = 40
	MaxLanguages      = 10
	MaxLanguageLen    = 40
	MaxCompanyLen     = 100
	MaxWebsiteLen     = 2048
	MaxPortfolio      = 12
	MaxItemTitleLen   = 100
	MaxItemDetailLen  = 1000
	MaxItemURLLen     = 2048
	MaxSearchQueryLen = 100
)

// Errors of profiles.
var (
	ErrPortfolioFull = apperr.New(apperr.Conflict, "portfolio_full",
		fmt.Sprintf("a portfolio holds at most %d items; delete one first", MaxPortfolio))
	ErrItemNotFound = apperr.New(apperr.NotFound, "portfolio_item_not_found", "no such portfolio item")
)

// Images tells whether an image URL is one stored through this server;
// upload.Service implements it.
type Images interface {
	Hosted(ctx context.Context, url string) (bool, error)
}

// Key is how skills and languages compare: without case.
func Key(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// normalizeList trims the entries of a list of skills or languages, drops
// repeats that differ only in case (the first written stays) and checks it
// against its bounds.
func normalizeList(errs *apperr.Fields, field string, in []string, maxItems, maxLen int) []string {
	out := make([]string, 0, len(in))
	var keys []string
	bad := false
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v == "" || len([]rune(v)) > maxLen {
			bad = true
			continue
		}
		if k := Key(v); !slices.Contains(keys, k) {
			keys = append(keys, k)
			out = append(out, v)
		}
	}
	switch {
	case bad:
		errs.Add(field, "each must be 1 to %d characters", maxLen)
	case len(out) > maxItems:
		errs.Add(field, "at most %d", maxItems)
	}
	return out
}

// NormalizeCountry returns an ISO 3166-1 alpha-2 country code in upper
// case, or false if c is none: golang.org/x/text keeps the list, and a code
// it replaces with another (UK with GB) is refused for the one to use.
func NormalizeCountry(c string) (string, bool) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if len(c) != 2 {
		return "", false
	}
	r, err := language.ParseRegion(c)
	if err != nil || !r.IsCountry() || r.Canonicalize().String() != c {
		return "", false
	}
	return c, true
}

// httpsURL checks an https URL a field may have: none, or an absolute
// https URL with a host, of at most max characters.
func httpsURL(errs *apperr.Fields, field, v string, max int) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	switch {
	case len([]rune(v)) > max:
		errs.MaxText(field, v, max)
	case err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "":
		errs.Add(field, "must be an https URL")
	}
}

// checkAbout trims the About fields the change sets and checks them.
func (pr *Profile) checkAbout(errs *apperr.Fields) {
	text := func(field string, v **string, max int) {
		if *v != nil {
			t := strings.TrimSpace(**v)
			*v = &t // not through the caller's pointer
			errs.MaxText(field, t, max)
		}
	}
	text("headline", &pr.Headline, MaxHeadlineLen)
	text("bio", &pr.Bio, MaxBioLen)
	text("company", &pr.Company, MaxCompanyLen)
	if pr.Website != nil {
		w := strings.TrimSpace(*pr.Website)
		pr.Website = &w
		httpsURL(errs, "website", w, MaxWebsiteLen)
	}
	if pr.Country != nil {
		c := strings.TrimSpace(*pr.Country)
		if c != "" {
			var ok bool
			if c, ok = NormalizeCountry(c); !ok {
				errs.Add("country", "must be an ISO 3166-1 alpha-2 country code, e.g. DE")
			}
		}
		pr.Country = &c
	}
	if pr.Skills != nil {
		skills := normalizeList(errs, "skills", *pr.Skills, MaxSkills, MaxSkillLen)
		pr.Skills = &skills
	}
	if pr.Languages != nil {
		langs := normalizeList(errs, "languages", *pr.Languages, MaxLanguages, MaxLanguageLen)
		pr.Languages = &langs
	}
}

// PortfolioEdit is a new portfolio item, or a change to one: a nil field
// stays as it is (a new item's is empty), and an empty optional one is
// removed.
type PortfolioEdit struct {
	Title       *string
	Description *string
	ImageURL    *string
	Link        *string
}

// apply trims the edit's fields onto item and checks the result.
func (e PortfolioEdit) apply(item *PortfolioItem) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&item.Title, e.Title)
	set(&item.Description, e.Description)
	set(&item.ImageURL, e.ImageURL)
	set(&item.Link, e.Link)
	var errs apperr.Fields
	errs.Text("title", item.Title, MaxItemTitleLen)
	errs.MaxText("description", item.Description, MaxItemDetailLen)
	errs.URL("image_url", item.ImageURL, MaxItemURLLen)
	httpsURL(&errs, "link", item.Link, MaxItemURLLen)
	return errs.Err()
}

var errNotHosted = apperr.InvalidFields(apperr.FieldError{Field: "image_url",
	Message: "must be an image uploaded to this server (POST /api/uploads)"})

// checkImage refuses an image that was not stored through this server.
func (s *Service) checkImage(ctx context.Context, imageURL string) error {
	if imageURL == "" {
		return nil
	}
	ok, err := s.images.Hosted(ctx, imageURL)
	if err != nil {
		return fmt.Errorf("look up image %s: %w", imageURL, err)
	}
	if !ok {
		return errNotHosted
	}
	return nil
}

// own refuses a change of someone else's profile: users change their own,
// admins anyone's; to anyone else it is not found.
func own(p auth.Principal, id string) error {
	if p.UserID != id && !p.Is(auth.RoleAdmin) {
		return ErrNotFound
	}
	return nil
}

// AddPortfolioItem adds an item at the end of the user's portfolio (their
// own, or anyone's for an admin), at most MaxPortfolio.
func (s *Service) AddPortfolioItem(ctx context.Context, p auth.Principal, id string, e PortfolioEdit) (PortfolioItem, error) {
	if err := own(p, id); err != nil {
		return PortfolioItem{}, err
	}
	item := PortfolioItem{ID: s.newID(), CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := e.apply(&item); err != nil {
		return PortfolioItem{}, err
	}
	if err := s.checkImage(ctx, item.ImageURL); err != nil {
		return PortfolioItem{}, err
	}
	_, err := s.store.UpdatePortfolio(ctx, id, func(items []PortfolioItem) ([]PortfolioItem, error) {
		if len(items) >= MaxPortfolio {
			return nil, ErrPortfolioFull
		}
		return append(items, item), nil
	})
	if err != nil {
		return PortfolioItem{}, fmt.Errorf("add to the portfolio of user %s: %w", id, err)
	}
	return item, nil
}

// EditPortfolioItem changes an item of the user's portfolio.
func (s *Service) EditPortfolioItem(ctx context.Context, p auth.Principal, id, itemID string, e PortfolioEdit) (PortfolioItem, error) {
	if err := own(p, id); err != nil {
		return PortfolioItem{}, err
	}
	if e.ImageURL != nil {
		if err := s.checkImage(ctx, strings.TrimSpace(*e.ImageURL)); err != nil {
			return PortfolioItem{}, err
		}
	}
	var edited PortfolioItem
	_, err := s.store.UpdatePortfolio(ctx, id, func(items []PortfolioItem) ([]PortfolioItem, error) {
		i := slices.IndexFunc(items, func(it PortfolioItem) bool { return it.ID == itemID })
		if i < 0 {
			return nil, ErrItemNotFound
		}
		edited = items[i]
		if err := e.apply(&edited); err != nil {
			return nil, err
		}
		items = slices.Clone(items)
		items[i] = edited
		return items, nil
	})
	if err != nil {
		return PortfolioItem{}, fmt.Errorf("edit item %s of the portfolio of user %s: %w", itemID, id, err)
	}
	return edited, nil
}

// DeletePortfolioItem takes an item out of the user's portfolio.
func (s *Service) DeletePortfolioItem(ctx context.Context, p auth.Principal, id, itemID string) error {
	if err := own(p, id); err != nil {
		return err
	}
	_, err := s.store.UpdatePortfolio(ctx, id, func(items []PortfolioItem) ([]PortfolioItem, error) {
		i := slices.IndexFunc(items, func(it PortfolioItem) bool { return it.ID == itemID })
		if i < 0 {
			return nil, ErrItemNotFound
		}
		return slices.Delete(slices.Clone(items), i, i+1), nil
	})
	if err != nil {
		return fmt.Errorf("delete item %s of the portfolio of user %s: %w", itemID, id, err)
	}
	return nil
}

// PortfolioItem returns an item of a user's public portfolio: one read. A
// user whose profile is not shown has none.
func (s *Service) PortfolioItem(ctx context.Context, id, itemID string) (PortfolioItem, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return PortfolioItem{}, fmt.Errorf("read user %s: %w", id, err)
	}
	if !u.Public() {
		return PortfolioItem{}, ErrNotFound
	}
	i := slices.IndexFunc(u.Portfolio, func(it PortfolioItem) bool { return it.ID == itemID })
	if i < 0 {
		return PortfolioItem{}, ErrItemNotFound
	}
	return u.Portfolio[i], nil
}

// Public says whether a user's profile is shown: not to anyone once they
// are suspended or deleted.
func (u User) Public() bool { return u.Status == StatusActive }

// PublicProfile is a user's profile as a viewer may see it.
type PublicProfile struct {
	User
	// Own says the viewer is the user or an admin, who see how many have
	// viewed the profile.
	Own bool
}

// Profile returns the public profile of a user to a viewer (signed in or
// not): one read. A suspended or deleted user is not found. A signed-in
// viewer other than the user and admins counts as one view a day, noted in
// memory and written in the background (FlushViews): it costs the read no
// command.
func (s *Service) Profile(ctx context.Context, viewer auth.Principal, id string) (PublicProfile, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return PublicProfile{}, fmt.Errorf("read user %s: %w", id, err)
	}
	if !u.Public() {
		return PublicProfile{}, ErrNotFound
	}
	now := s.now().UTC()
	own := viewer.UserID == id || viewer.Is(auth.RoleAdmin)
	switch {
	case own:
		if u.ProfileViews > 0 && u.ProfileViewsOn.Before(viewDay(now)) {
			s.views.recount(id) // viewers of a month ago have left the window since
		}
	case viewer.UserID != "":
		s.views.note(id, viewer.UserID, now)
	}
	return PublicProfile{User: u, Own: own}, nil
}

// Sorts of the worker search.
const (
	SortRating   = "rating"
	SortApproved = "approved"
	SortNewest   = "newest"
)

// WorkerFilter selects workers for the public search.
type WorkerFilter struct {
	Query     string   // words in the name or headline
	Skills    []string // each must be among the worker's, compared without case
	Country   string   // ISO 3166-1 alpha-2
	Language  string   // among the worker's, compared without case
	MinRating float64
	MinLevel  int
	Sort      string // SortRating (default), SortApproved or SortNewest
}

// Workers returns a page of the active workers matching f, as the public
// search shows them: one find and one count on the users, which keep the
// copy of their standing the filters and sorts read.
func (s *Service) Workers(ctx context.Context, f WorkerFilter, r page.Request) (page.Of[User], error) {
	var errs apperr.Fields
	f.Query = strings.TrimSpace(f.Query)
	errs.MaxText("q", f.Query, MaxSearchQueryLen)
	if f.Country != "" {
		c, ok := NormalizeCountry(f.Country)
		if !ok {
			errs.Add("country", "must be an ISO 3166-1 alpha-2 country code, e.g. DE")
		}
		f.Country = c
	}
	keys := make([]string, 0, len(f.Skills))
	for _, sk := range f.Skills {
		if k := Key(sk); k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > MaxSkills {
		errs.Add("skill", "at most %d", MaxSkills)
	}
	f.Skills, f.Language = keys, Key(f.Language)
	if err := errs.Err(); err != nil {
		return page.Of[User]{}, err
	}
	users, total, err := s.store.Workers(ctx, f, r)
	if err != nil {
		return page.Of[User]{}, fmt.Errorf("search workers: %w", err)
	}
	return page.Of[User]{Items: users, Request: r, Total: total}, nil
}

// MinReviewsToRank is how many reviews a worker needs to be on the
// top-rated board: a single five-star review is no ranking.
const MinReviewsToRank = 3

// TopWorkersByRating returns the active workers with the best rating,
// among those with at least MinReviewsToRank reviews, best first, with
// their coins: two reads (the users, by the copy of their standing, and
// their balances).
func (s *Service) TopWorkersByRating(ctx context.Context) ([]User, error) {
	top, err := s.store.TopRated(ctx, MinReviewsToRank, TopWorkersCount)
	if err != nil {
		return nil, fmt.Errorf("read the top-rated workers: %w", err)
	}
	if len(top) == 0 {
		return top, nil
	}
	accts := make([]string, len(top))
	for i, u := range top {
		accts[i] = ledger.UserAccount(u.ID)
	}
	coins, err := s.ledger.Balances(ctx, accts)
	if err != nil {
		return nil, err
	}
	for i := range top {
		top[i].Coins = coins[accts[i]]
	}
	return top, nil
}

// Shown returns nil for a user whose profile is shown (active), and
// ErrNotFound for one suspended, deleted or missing: what the public may
// see of them, their reviews included, follows the profile.
func (s *Service) Shown(ctx context.Context, id string) error {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return fmt.Errorf("read user %s: %w", id, err)
	}
	if !u.Public() {
		return ErrNotFound
	}
	return nil
}
