package httpapi

import (
	"net/http"
	"time"

	"microtask/internal/auth"
	"microtask/internal/page"
	"microtask/internal/qualification"
)

// The qualification service checks the bounds of these bodies, every field
// at once (qualification.Draft); they carry no validation tags of their own.

type questionBody struct {
	Prompt  string   `json:"prompt"`
	Choices []string `json:"choices"`
	Answer  int      `json:"answer"`
}

type testBody struct {
	Questions       []questionBody `json:"questions"`
	PassScore       int            `json:"pass_score"`
	RetryAfterHours int            `json:"retry_after_hours"`
}

func (b *testBody) test() *qualification.Test {
	if b == nil {
		return nil
	}
	t := &qualification.Test{PassScore: b.PassScore, RetryAfter: time.Duration(b.RetryAfterHours) * time.Hour,
		Questions: make([]qualification.Question, len(b.Questions))}
	for i, q := range b.Questions {
		t.Questions[i] = qualification.Question(q)
	}
	return t
}

type createQualificationRequest struct {
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Test           *testBody `json:"test"`
	AutoGrantValue *int      `json:"auto_grant_value"`
}

// editQualificationRequest is the body of PATCH /api/qualifications/{id}:
// the fields it has change; null removes the test or the auto-grant value.
type editQualificationRequest struct {
	Name           optional[string]    `json:"name"`
	Description    optional[string]    `json:"description"`
	Test           optional[*testBody] `json:"test"`
	AutoGrantValue optional[*int]      `json:"auto_grant_value"`
}

func (r editQualificationRequest) edit() qualification.Edit {
	e := qualification.Edit{Name: r.Name.ptr(), Description: r.Description.ptr()}
	if r.Test.Set {
		e.Test, e.ClearTest = r.Test.Value.test(), r.Test.Value == nil
	}
	if r.AutoGrantValue.Set {
		e.AutoGrant, e.ClearAutoGrant = r.AutoGrantValue.Value, r.AutoGrantValue.Value == nil
	}
	return e
}

type grantRequest struct {
	WorkerID string `json:"worker_id" validate:"required,max=64"`
	Value    int    `json:"value"`
}

type attemptRequest struct {
	Answers []int `json:"answers"`
}

type questionResponse struct {
	Prompt  string   `json:"prompt"`
	Choices []string `json:"choices"`
	Answer  *int     `json:"answer,omitempty"` // its owner only
}

type testResponse struct {
	Questions       []questionResponse `json:"questions"`
	PassScore       int                `json:"pass_score"`
	RetryAfterHours int                `json:"retry_after_hours"`
}

type qualificationResponse struct {
	ID             string        `json:"id"`
	OwnerID        string        `json:"owner_id"`
	Name           string        `json:"name"`
	Description    string        `json:"description"`
	Test           *testResponse `json:"test"`
	AutoGrantValue *int          `json:"auto_grant_value"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
}

// toQualificationResponse shows a type to p: the answers of its test to
// its owner only.
func toQualificationResponse(t qualification.Type, p auth.Principal) qualificationResponse {
	res := qualificationResponse{ID: t.ID, OwnerID: t.OwnerID, Name: t.Name, Description: t.Description, AutoGrantValue: t.AutoGrant,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	if t.Test != nil {
		res.Test = &testResponse{PassScore: t.Test.PassScore, RetryAfterHours: int(t.Test.RetryAfter / time.Hour),
			Questions: make([]questionResponse, len(t.Test.Questions))}
		for i, q := range t.Test.Questions {
			res.Test.Questions[i] = questionResponse{Prompt: q.Prompt, Choices: q.Choices}
			if t.Answers(p) {
				answer := q.Answer
				res.Test.Questions[i].Answer = &answer
			}
		}
	}
	return res
}

type grantResponse struct {
	QualificationID   string        `json:"qualification_id"`
	QualificationName string        `json:"qualification_name"`
	Worker            partyResponse `json:"worker"`
	Value             int           `json:"value"`
	Source            string        `json:"source"`
	GrantedAt         time.Time     `json:"granted_at"`
}

func toGrantResponse(g qualification.Grant) grantResponse {
	return grantResponse{QualificationID: g.TypeID, QualificationName: g.TypeName, Worker: partyResponse{ID: g.WorkerID, Name: g.WorkerName},
		Value: g.Value, Source: string(g.Source), GrantedAt: g.GrantedAt.UTC()}
}

type attemptResponse struct {
	Score   int            `json:"score"`
	Passed  bool           `json:"passed"`
	Granted *grantResponse `json:"granted"`
	RetryAt time.Time      `json:"retry_at"`
}

// handleQualificationCreate handles POST /api/qualifications.
func (s *Server) handleQualificationCreate(w http.ResponseWriter, r *http.Request) error {
	var req createQualificationRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	t, err := s.qualifications.Create(r.Context(), principal(r), qualification.Draft{Name: req.Name, Description: req.Description,
		Test: req.Test.test(), AutoGrant: req.AutoGrantValue})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/qualifications/"+t.ID)
	return writeJSON(w, http.StatusCreated, toQualificationResponse(t, principal(r)))
}

// handleQualificationList handles GET /api/qualifications: ?owner=me for
// the buyer's own, public (the default) for everyone's; ?q= words of the
// name.
func (s *Server) handleQualificationList(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	mine := q.oneOf("owner", "public", "me", "public") == "me"
	words := q.text("q", qualification.MaxQueryLen)
	p := principal(r)
	return writePage(w, q, func(pr page.Request) (page.Of[qualification.Type], error) {
		return s.qualifications.List(r.Context(), p, mine, words, pr)
	}, func(t qualification.Type) qualificationResponse { return toQualificationResponse(t, p) })
}

// handleQualificationGet handles GET /api/qualifications/{id}.
func (s *Server) handleQualificationGet(w http.ResponseWriter, r *http.Request) error {
	t, err := s.qualifications.Get(r.Context(), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toQualificationResponse(t, principal(r)))
}

// handleQualificationUpdate handles PATCH /api/qualifications/{id}.
func (s *Server) handleQualificationUpdate(w http.ResponseWriter, r *http.Request) error {
	var req editQualificationRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	t, err := s.qualifications.Update(r.Context(), principal(r), param(r, "id"), req.edit())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toQualificationResponse(t, principal(r)))
}

// handleQualificationDelete handles DELETE /api/qualifications/{id}.
func (s *Server) handleQualificationDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.qualifications.Delete(r.Context(), principal(r), param(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleGrantSet handles POST /api/qualifications/{id}/grants.
func (s *Server) handleGrantSet(w http.ResponseWriter, r *http.Request) error {
	var req grantRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	g, err := s.qualifications.Grant(r.Context(), principal(r), param(r, "id"), req.WorkerID, req.Value)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toGrantResponse(g))
}

// handleGrantDelete handles DELETE /api/qualifications/{id}/grants/{worker_id}.
func (s *Server) handleGrantDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.qualifications.Revoke(r.Context(), principal(r), param(r, "id"), param(r, "worker_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleGrantList handles GET /api/qualifications/{id}/grants.
func (s *Server) handleGrantList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[qualification.Grant], error) {
		return s.qualifications.Grants(r.Context(), principal(r), param(r, "id"), p)
	}, toGrantResponse)
}

// handleQualificationMine handles GET /api/qualifications/my.
func (s *Server) handleQualificationMine(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[qualification.Grant], error) {
		return s.qualifications.Mine(r.Context(), principal(r), p)
	}, toGrantResponse)
}

// handleAttemptCreate handles POST /api/qualifications/{id}/attempts.
func (s *Server) handleAttemptCreate(w http.ResponseWriter, r *http.Request) error {
	var req attemptRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	a, err := s.qualifications.Take(r.Context(), principal(r), param(r, "id"), req.Answers)
	if err != nil {
		return err
	}
	res := attemptResponse{Score: a.Score, Passed: a.Passed, RetryAt: a.RetryAt.UTC()}
	if a.Granted != nil {
		g := toGrantResponse(*a.Granted)
		res.Granted = &g
	}
	return writeJSON(w, http.StatusOK, res)
}
