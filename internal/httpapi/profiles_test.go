package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"microtask/internal/user"
)

type portfolioItemBody struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	ImageURL    string `json:"image_url"`
	Link        string `json:"link"`
}

type profileBody struct {
	ID           string              `json:"id"`
	Name         string              `json:"name"`
	Role         string              `json:"role"`
	Headline     string              `json:"headline"`
	Bio          string              `json:"bio"`
	Skills       []string            `json:"skills"`
	Languages    []string            `json:"languages"`
	Country      string              `json:"country"`
	Company      string              `json:"company"`
	Website      string              `json:"website"`
	Portfolio    []portfolioItemBody `json:"portfolio"`
	WorkerRecord *struct {
		Approved int64 `json:"approved"`
	} `json:"worker_record"`
	BuyerRecord  *struct{}  `json:"buyer_record"`
	Rating       ratingBody `json:"rating"`
	Level        *int       `json:"level"`
	ProfileViews *int64     `json:"profile_views"`
}

func (a *testAPI) profile(t *testing.T, id, token string) profileBody {
	t.Helper()
	return decode[profileBody](t, a.call(t, http.MethodGet, "/api/users/"+id, token, nil), http.StatusOK)
}

// flushViews writes the profile views the server noted, as its job does.
func (a *testAPI) flushViews(t *testing.T) {
	t.Helper()
	if _, err := a.users.FlushViews(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPublicProfile: the owner edits their profile through the existing
// PATCH; anyone reads it without private fields; the owner and admins see
// its views, counted once a day per signed-in viewer; suspended and deleted
// users have none.
func TestPublicProfile(t *testing.T) {
	a := newAPI(t)
	w, b, adm := a.register(t, "worker"), a.register(t, "buyer"), a.admin(t)
	u := decode[userBody](t, a.call(t, http.MethodPatch, "/api/users/"+w.User.ID, w.Token, map[string]any{
		"headline": " Careful data entry ", "bio": "Five years of it.", "skills": []string{"Data entry", "excel", "EXCEL"},
		"languages": []string{"English", "German"}, "country": "de", "company": "Acme", "website": "https://example.com/w",
	}), http.StatusOK)
	if u.Email == "" {
		t.Errorf("the owner's answer lacks the email")
	}

	raw := decode[map[string]any](t, a.get(t, "/api/users/"+w.User.ID), http.StatusOK)
	for _, private := range []string{"email", "email_verified", "coins", "coins_on_hold", "status", "profile_views", "created_at"} {
		if _, ok := raw[private]; ok {
			t.Errorf("the public profile shows %q", private)
		}
	}
	p := a.profile(t, w.User.ID, "")
	if p.Headline != "Careful data entry" || !slices.Equal(p.Skills, []string{"Data entry", "excel"}) || p.Country != "DE" ||
		p.Company != "Acme" || p.Website != "https://example.com/w" || p.Role != "worker" {
		t.Errorf("profile = %+v", p)
	}
	if p.Level == nil || *p.Level != 0 || p.WorkerRecord == nil || p.BuyerRecord != nil || p.Rating.Count != 0 || p.Rating.Average != nil {
		t.Errorf("a new worker's level %v, records %v %v, rating %+v", p.Level, p.WorkerRecord, p.BuyerRecord, p.Rating)
	}
	if bp := a.profile(t, b.User.ID, ""); bp.Level != nil || bp.WorkerRecord != nil || bp.BuyerRecord == nil {
		t.Errorf("a buyer's profile: level %v, records %v %v; want only a buyer record", bp.Level, bp.WorkerRecord, bp.BuyerRecord)
	}

	// Views: the buyer three times, another worker once, the owner and
	// the admin not at all.
	other := a.register(t, "worker")
	for _, token := range []string{b.Token, b.Token, b.Token, other.Token, w.Token, adm.Token, ""} {
		a.profile(t, w.User.ID, token)
	}
	a.flushViews(t)
	if v := a.profile(t, w.User.ID, w.Token).ProfileViews; v == nil || *v != 2 {
		t.Errorf("the owner sees %v views, want 2", v)
	}
	if v := a.profile(t, w.User.ID, adm.Token).ProfileViews; v == nil || *v != 2 {
		t.Errorf("an admin sees %v views, want 2", v)
	}
	if v := a.profile(t, w.User.ID, b.Token).ProfileViews; v != nil {
		t.Errorf("another user sees %d views, want none", *v)
	}

	// Every bad field at once; someone else's profile is not found.
	pr := wantProblem(t, a.call(t, http.MethodPatch, "/api/users/"+w.User.ID, w.Token, map[string]any{
		"country": "UK", "website": "http://example.com", "skills": make([]string, 21), "headline": strings.Repeat("h", 121),
	}), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"country", "website", "skills", "headline"} {
		wantFieldError(t, pr, f)
	}
	wantProblem(t, a.call(t, http.MethodPatch, "/api/users/"+w.User.ID, other.Token, map[string]any{"bio": "x"}), http.StatusNotFound, "user_not_found")
	// An admin may edit anyone's.
	decode[userBody](t, a.call(t, http.MethodPatch, "/api/users/"+w.User.ID, adm.Token, map[string]any{"bio": nil}), http.StatusOK)
	if p := a.profile(t, w.User.ID, ""); p.Bio != "" || p.Headline == "" {
		t.Errorf("after the admin cleared the bio: %+v", p)
	}

	// Suspended, deleted, or never there: 404, whoever asks.
	decode[userBody](t, a.call(t, http.MethodPut, "/api/admin/users/"+other.User.ID, adm.Token, map[string]string{"status": "suspended"}), http.StatusOK)
	deleted := a.register(t, "buyer")
	if rec := a.call(t, http.MethodDelete, "/api/users/"+deleted.User.ID, adm.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete = %d", rec.Code)
	}
	for _, id := range []string{other.User.ID, deleted.User.ID, "no-such-user"} {
		for _, token := range []string{"", adm.Token, b.Token} {
			wantProblem(t, a.call(t, http.MethodGet, "/api/users/"+id, token, nil), http.StatusNotFound, "user_not_found")
		}
	}
	wantProblem(t, a.call(t, http.MethodGet, "/api/users/"+w.User.ID, "not-a-token", nil), http.StatusUnauthorized, "invalid_token")
}

// TestPortfolio: a user adds up to 12 items, showing images of this server
// only, edits and deletes them; the profile shows them in order.
func TestPortfolio(t *testing.T) {
	a := newAPI(t)
	w, b := a.register(t, "worker"), a.register(t, "buyer")
	img := decode[imageBody](t, a.upload(t, w.Token, pngImage(t, 4, 4)), http.StatusCreated)
	path := "/api/users/" + w.User.ID + "/portfolio"

	rec := a.call(t, http.MethodPost, path, w.Token, map[string]any{"title": " Catalogue ", "description": "2,000 items",
		"image_url": img.URL, "link": "https://example.com/c"})
	first := decode[portfolioItemBody](t, rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != path+"/"+first.ID || first.Title != "Catalogue" || first.ImageURL != img.URL {
		t.Errorf("item %+v at %s", first, loc)
	}
	// The buyer's portfolio too; not someone else's.
	decode[portfolioItemBody](t, a.call(t, http.MethodPost, "/api/users/"+b.User.ID+"/portfolio", b.Token, map[string]any{"title": "Our shop"}),
		http.StatusCreated)
	wantProblem(t, a.call(t, http.MethodPost, path, b.Token, map[string]any{"title": "Mine"}), http.StatusNotFound, "user_not_found")

	pr := wantProblem(t, a.call(t, http.MethodPost, path, w.Token, map[string]any{"title": "", "image_url": "https://elsewhere.example/i.png",
		"link": "http://example.com"}), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"title", "link"} {
		wantFieldError(t, pr, f)
	}
	pr = wantProblem(t, a.call(t, http.MethodPost, path, w.Token, map[string]any{"title": "T", "image_url": "https://elsewhere.example/i.png"}),
		http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, pr, "image_url")

	for i := 2; i <= user.MaxPortfolio; i++ {
		decode[portfolioItemBody](t, a.call(t, http.MethodPost, path, w.Token, map[string]any{"title": fmt.Sprintf("Item %d", i)}), http.StatusCreated)
	}
	wantProblem(t, a.call(t, http.MethodPost, path, w.Token, map[string]any{"title": "One more"}), http.StatusConflict, "portfolio_full")

	edited := decode[portfolioItemBody](t, a.call(t, http.MethodPatch, path+"/"+first.ID, w.Token,
		map[string]any{"title": "Catalogue, revised", "image_url": nil}), http.StatusOK)
	if edited.Title != "Catalogue, revised" || edited.ImageURL != "" || edited.Link != "https://example.com/c" {
		t.Errorf("edited item = %+v", edited)
	}
	wantProblem(t, a.call(t, http.MethodPatch, path+"/"+first.ID, b.Token, map[string]any{"title": "x"}), http.StatusNotFound, "user_not_found")
	wantProblem(t, a.call(t, http.MethodPatch, path+"/nope", w.Token, map[string]any{"title": "x"}), http.StatusNotFound, "portfolio_item_not_found")
	pr = wantProblem(t, a.call(t, http.MethodPatch, path+"/"+first.ID, w.Token, map[string]any{"title": nil}), http.StatusUnprocessableEntity, "invalid_fields")
	wantFieldError(t, pr, "title")

	p := a.profile(t, w.User.ID, "")
	if len(p.Portfolio) != user.MaxPortfolio || p.Portfolio[0].Title != "Catalogue, revised" || p.Portfolio[1].Title != "Item 2" {
		t.Fatalf("portfolio = %+v", p.Portfolio)
	}
	wantProblem(t, a.call(t, http.MethodDelete, path+"/"+first.ID, b.Token, nil), http.StatusNotFound, "user_not_found")
	if rec := a.call(t, http.MethodDelete, path+"/"+first.ID, w.Token, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("delete = %d", rec.Code)
	}
	wantProblem(t, a.call(t, http.MethodDelete, path+"/"+first.ID, w.Token, nil), http.StatusNotFound, "portfolio_item_not_found")
	wantProblem(t, a.get(t, path+"/"+first.ID), http.StatusNotFound, "portfolio_item_not_found")
	if got := decode[portfolioItemBody](t, a.get(t, path+"/"+p.Portfolio[1].ID), http.StatusOK); got.Title != "Item 2" {
		t.Errorf("GET the item = %+v", got)
	}
	if p := a.profile(t, w.User.ID, ""); len(p.Portfolio) != user.MaxPortfolio-1 || p.Portfolio[0].Title != "Item 2" {
		t.Errorf("portfolio after a delete = %+v", p.Portfolio)
	}
}

// TestWorkerSearch: public cards of active workers, filtered and sorted;
// bad parameters are a 422 naming each.
func TestWorkerSearch(t *testing.T) {
	a := newAPI(t)
	adm := a.admin(t)
	worker := func(name string, about map[string]any, st user.Standing) sessionBody {
		s := a.register(t, "worker")
		about["name"] = name
		decode[userBody](t, a.call(t, http.MethodPatch, "/api/users/"+s.User.ID, s.Token, about), http.StatusOK)
		a.standing(t, s.User.ID, st)
		return s
	}
	worker("Ana", map[string]any{"skills": []string{"Go", "SQL"}, "country": "DE", "languages": []string{"German"}, "headline": "Translator"},
		user.Standing{Level: 2, Rating: 4.8, Reviews: 10, Approved: 120})
	worker("Bo", map[string]any{"skills": []string{"go"}, "country": "FR"}, user.Standing{Level: 1, Rating: 4.2, Reviews: 3, Approved: 300})
	cy := worker("Cy", map[string]any{"skills": []string{"Go", "SQL"}}, user.Standing{Level: 3, Rating: 5, Reviews: 40, Approved: 900})
	decode[userBody](t, a.call(t, http.MethodPut, "/api/admin/users/"+cy.User.ID, adm.Token, map[string]string{"status": "suspended"}), http.StatusOK)

	type cardBody struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Headline string   `json:"headline"`
		Skills   []string `json:"skills"`
	}
	search := func(query string) []string {
		t.Helper()
		var names []string
		for _, c := range decode[pageOf[cardBody]](t, a.get(t, "/api/workers"+query), http.StatusOK).Items {
			names = append(names, c.Name)
		}
		return names
	}
	for query, want := range map[string][]string{
		"":                         {"Ana", "Bo"},
		"?sort=approved":           {"Bo", "Ana"},
		"?skill=go&skill=SQL":      {"Ana"},
		"?skill=GO":                {"Ana", "Bo"},
		"?country=fr":              {"Bo"},
		"?language=german":         {"Ana"},
		"?min_rating=4.5":          {"Ana"},
		"?min_level=2":             {"Ana"},
		"?q=transl":                {"Ana"},
		"?q=nobody&sort=newest":    nil,
		"?skill=go&page=2&limit=1": {"Bo"},
	} {
		if got := search(query); !slices.Equal(got, want) {
			t.Errorf("GET /workers%s = %v, want %v", query, got, want)
		}
	}
	pr := wantProblem(t, a.get(t, "/api/workers?min_rating=6&min_level=4&sort=coins&country=Germany"), http.StatusUnprocessableEntity, "invalid_fields")
	for _, f := range []string{"min_rating", "min_level", "sort", "country"} {
		wantFieldError(t, pr, f)
	}
}

// TestTopWorkersByRating: the board by rating, among workers with a few
// reviews, with each card's rating and level.
func TestTopWorkersByRating(t *testing.T) {
	a := newAPI(t)
	type card struct {
		ID     string     `json:"id"`
		Rating ratingBody `json:"rating"`
		Level  int        `json:"level"`
	}
	good, better, unranked := a.register(t, "worker"), a.register(t, "worker"), a.register(t, "worker")
	a.standing(t, good.User.ID, user.Standing{Rating: 4.2, Reviews: 3})
	a.standing(t, better.User.ID, user.Standing{Rating: 4.9, Reviews: 7})
	a.standing(t, unranked.User.ID, user.Standing{Rating: 5, Reviews: 2})
	top := decode[[]card](t, a.get(t, "/api/users/top-workers?by=rating"), http.StatusOK)
	var ids []string
	for _, c := range top {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{better.User.ID, good.User.ID}) {
		t.Errorf("top by rating = %v, want better then good", ids)
	}
	wantProblem(t, a.get(t, "/api/users/top-workers?by=stars"), http.StatusUnprocessableEntity, "invalid_fields")
}
