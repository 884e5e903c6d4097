package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/reputation"
	"microtask/internal/user"
)

// portfolioItemResponse is an item of a portfolio.
type portfolioItemResponse struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	ImageURL    string    `json:"image_url"`
	Link        string    `json:"link"`
	CreatedAt   time.Time `json:"created_at"`
}

func toPortfolioItem(it user.PortfolioItem) portfolioItemResponse {
	return portfolioItemResponse{ID: it.ID, Title: it.Title, Description: it.Description, ImageURL: it.ImageURL, Link: it.Link,
		CreatedAt: it.CreatedAt.UTC()}
}

// profileResponse is a user's public profile: never their email, coins or
// status. ProfileViews is only for the user and admins.
type profileResponse struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	PhotoURL    string    `json:"photo_url"`
	Role        auth.Role `json:"role"`
	MemberSince time.Time `json:"member_since"`
	aboutResponse
	Portfolio    []portfolioItemResponse `json:"portfolio"`
	WorkerRecord *workerRecordResponse   `json:"worker_record"` // a worker's; null for others
	BuyerRecord  *buyerRecordResponse    `json:"buyer_record"`  // a buyer's; null for others
	Rating       ratingResponse          `json:"rating"`
	Level        *int                    `json:"level"` // a worker's; null for others
	ProfileViews *int64                  `json:"profile_views,omitempty"`
}

func toProfile(p user.PublicProfile, rec reputation.Record) profileResponse {
	res := profileResponse{ID: p.ID, Name: p.Name, PhotoURL: p.PhotoURL, Role: p.Role, MemberSince: p.CreatedAt.UTC(),
		aboutResponse: toAbout(p.About), Portfolio: make([]portfolioItemResponse, len(p.Portfolio)), Rating: toRating(rec)}
	for i, it := range p.Portfolio {
		res.Portfolio[i] = toPortfolioItem(it)
	}
	switch p.Role {
	case auth.RoleWorker:
		res.WorkerRecord, res.Level = toWorkerRecord(rec), &rec.Level
	case auth.RoleBuyer:
		res.BuyerRecord = toBuyerRecord(rec)
	}
	if p.Own {
		res.ProfileViews = &p.ProfileViews
	}
	return res
}

// handleUserProfile handles GET /api/users/{id}: two reads, the user and
// their record.
func (s *Server) handleUserProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := s.users.Profile(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	recs, err := s.records(r.Context(), []string{p.ID})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toProfile(p, recs[p.ID]))
}

// portfolioRequest is the body of POST and PATCH
// /api/users/{id}/portfolio[/{item_id}]: the fields it has change, the
// others stay. The user service checks them.
type portfolioRequest struct {
	Title       optional[string] `json:"title"`
	Description optional[string] `json:"description"`
	ImageURL    optional[string] `json:"image_url"`
	Link        optional[string] `json:"link"`
}

func (r portfolioRequest) edit() user.PortfolioEdit {
	return user.PortfolioEdit{Title: r.Title.ptr(), Description: r.Description.ptr(), ImageURL: r.ImageURL.ptr(), Link: r.Link.ptr()}
}

// handlePortfolioAdd handles POST /api/users/{id}/portfolio.
func (s *Server) handlePortfolioAdd(w http.ResponseWriter, r *http.Request) error {
	var req portfolioRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	id := param(r, "id")
	it, err := s.users.AddPortfolioItem(r.Context(), principal(r), id, req.edit())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/users/"+id+"/portfolio/"+it.ID)
	return writeJSON(w, http.StatusCreated, toPortfolioItem(it))
}

// handlePortfolioGet handles GET /api/users/{id}/portfolio/{item_id}.
func (s *Server) handlePortfolioGet(w http.ResponseWriter, r *http.Request) error {
	it, err := s.users.PortfolioItem(r.Context(), param(r, "id"), param(r, "item_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPortfolioItem(it))
}

// handlePortfolioEdit handles PATCH /api/users/{id}/portfolio/{item_id}.
func (s *Server) handlePortfolioEdit(w http.ResponseWriter, r *http.Request) error {
	var req portfolioRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	it, err := s.users.EditPortfolioItem(r.Context(), principal(r), param(r, "id"), param(r, "item_id"), req.edit())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPortfolioItem(it))
}

// handlePortfolioDelete handles DELETE /api/users/{id}/portfolio/{item_id}.
func (s *Server) handlePortfolioDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.users.DeletePortfolioItem(r.Context(), principal(r), param(r, "id"), param(r, "item_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// publicCardResponse is a user as lists of people show them: a summary of
// their profile, their record, rating and level.
type publicCardResponse struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"`
	PhotoURL     string                `json:"photo_url"`
	Headline     string                `json:"headline"`
	Country      string                `json:"country"`
	Skills       []string              `json:"skills"`
	Languages    []string              `json:"languages"`
	MemberSince  time.Time             `json:"member_since"`
	WorkerRecord *workerRecordResponse `json:"worker_record"`
	Rating       ratingResponse        `json:"rating"`
	Level        int                   `json:"level"`
}

// handleWorkerSearch handles GET /api/workers: a page of public cards, one
// find and one count, and one read of the page's records.
func (s *Server) handleWorkerSearch(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := user.WorkerFilter{
		Query:     q.text("q", user.MaxSearchQueryLen),
		Skills:    q.all("skill", user.MaxSkillLen),
		Country:   q.text("country", 2),
		Language:  q.text("language", user.MaxLanguageLen),
		MinRating: q.number("min_rating", 0, reputation.MaxStars),
		MinLevel:  q.int("min_level", 0, 0, reputation.MaxLevel),
		Sort:      q.oneOf("sort", user.SortRating, user.SortRating, user.SortApproved, user.SortNewest),
	}
	var recs map[string]reputation.Record
	return writePage(w, q, func(p page.Request) (page.Of[user.User], error) {
		res, err := s.users.Workers(r.Context(), f, p)
		if err != nil {
			return res, err
		}
		ids := make([]string, len(res.Items))
		for i, u := range res.Items {
			ids[i] = u.ID
		}
		recs, err = s.records(r.Context(), ids)
		return res, err
	}, func(u user.User) publicCardResponse {
		rec := recs[u.ID]
		return publicCardResponse{ID: u.ID, Name: u.Name, PhotoURL: u.PhotoURL, Headline: u.Headline, Country: u.Country,
			Skills: nonNilStrings(u.Skills), Languages: nonNilStrings(u.Languages), MemberSince: u.CreatedAt.UTC(),
			WorkerRecord: toWorkerRecord(rec), Rating: toRating(rec), Level: rec.Level}
	})
}
