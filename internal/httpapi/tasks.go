package httpapi

import (
	"net/http"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/reputation"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// taskEditRequest is the body of PUT and PATCH /api/tasks/{id}: the fields
// it has change, the others stay. Its tags repeat the task service's bounds
// (task.TextEdit) for the contract.
type taskEditRequest struct {
	Title          optional[string] `json:"task_title" validate:"omitnil,kept,max=200"`
	Detail         optional[string] `json:"task_detail" validate:"omitnil,kept,max=5000"`
	SubmissionInfo optional[string] `json:"submission_info" validate:"omitnil,kept,max=1000"`
	ImageURL       optional[string] `json:"task_image_url" validate:"omitempty,max=2048,http_url"`
	Category       optional[string] `json:"category" validate:"omitnil,kept"`
	// Tags replace the task's tags; null or [] removes them.
	Tags optional[[]string] `json:"tags"`
	// Requirements, checked by the task service only; null or 0 asks
	// nothing.
	MinLevel  optional[int]     `json:"min_level"`
	MinRating optional[float64] `json:"min_rating"`
	// Countries and requirements replace the task's; null or [] asks
	// nothing.
	Countries    optional[[]string]                   `json:"countries"`
	Requirements optional[[]qualificationRequirement] `json:"requirements"`
}

// qualificationRequirement is one of a task's qualification requirements,
// in requests and responses; the task service checks it.
type qualificationRequirement struct {
	QualificationID string `json:"qualification_id"`
	Comparator      string `json:"comparator"`
	Value           *int   `json:"value,omitempty"`
}

// toQualifications is the requirements of a request for the task service.
func toQualifications(reqs []qualificationRequirement) []task.QualificationRequirement {
	out := make([]task.QualificationRequirement, len(reqs))
	for i, q := range reqs {
		out[i] = task.QualificationRequirement{QualificationID: strings.TrimSpace(q.QualificationID),
			Comparator: task.Comparator(q.Comparator), Value: q.Value}
	}
	return out
}

// fromQualifications is a task's qualification requirements as the API
// shows them: [] for none.
func fromQualifications(reqs []task.QualificationRequirement) []qualificationRequirement {
	out := make([]qualificationRequirement, len(reqs))
	for i, q := range reqs {
		out[i] = qualificationRequirement{QualificationID: q.QualificationID, Comparator: string(q.Comparator), Value: q.Value}
	}
	return out
}

// requirements is what a request asks of workers, for the task service.
func requirements(minLevel int, minRating float64, countries []string, reqs []qualificationRequirement) task.Requirements {
	return task.Requirements{MinLevel: minLevel, MinRating: minRating, Countries: countries, Qualifications: toQualifications(reqs)}
}

func (r *taskEditRequest) trim() {
	r.Title, r.Detail = trimmed(r.Title), trimmed(r.Detail)
	r.SubmissionInfo, r.ImageURL = trimmed(r.SubmissionInfo), trimmed(r.ImageURL)
}

func (r taskEditRequest) edit() task.TextEdit {
	e := task.TextEdit{Title: r.Title.ptr(), Detail: r.Detail.ptr(), SubmissionInfo: r.SubmissionInfo.ptr(), ImageURL: r.ImageURL.ptr(),
		Category: r.Category.ptr(), Tags: r.Tags.ptr(), RequirementsEdit: requirementsEdit(r.MinLevel, r.MinRating, r.Countries, r.Requirements)}
	return e
}

// requirementsEdit is the change of requirements a task's or a job's
// PATCH asks for: what it leaves out stays.
func requirementsEdit(minLevel optional[int], minRating optional[float64], countries optional[[]string],
	reqs optional[[]qualificationRequirement]) task.RequirementsEdit {
	e := task.RequirementsEdit{MinLevel: minLevel.ptr(), MinRating: minRating.ptr(), Countries: countries.ptr()}
	if reqs.Set {
		q := toQualifications(reqs.Value)
		e.Qualifications = &q
	}
	return e
}

// createTaskRequest is the body of POST /api/tasks. The bounds are the
// task service's (task.NewTask), which checks them all; the tags repeat
// them for the contract, and TestTaskBoundsAreTheService holds the two
// together.
type createTaskRequest struct {
	Title           string `json:"task_title" validate:"required,max=200"`
	Detail          string `json:"task_detail" validate:"required,max=5000"`
	SubmissionInfo  string `json:"submission_info" validate:"required,max=1000"`
	ImageURL        string `json:"task_image_url" validate:"omitempty,max=2048,http_url"`
	RequiredWorkers int    `json:"required_workers" validate:"required,min=1,max=10000"`
	PayableAmount   int64  `json:"payable_amount" validate:"required,min=1,max=10000"`
	CompletionDate  string `json:"completion_date" validate:"required"`
	// Category and tags are checked by the task service only; left out,
	// category, tags and allotted time are "other", none and 60 minutes.
	Category     string   `json:"category"`
	Tags         []string `json:"tags"`
	TimeAllotted int      `json:"time_allotted_minutes" validate:"omitempty,min=5,max=1440"` // for a reservation's work; 60 if left out
	// Requirements, checked by the task service only; left out, none.
	MinLevel     int                        `json:"min_level"`
	MinRating    float64                    `json:"min_rating"`
	Countries    []string                   `json:"countries"`
	Requirements []qualificationRequirement `json:"requirements"`
}

func (r *createTaskRequest) trim() {
	r.Title, r.Detail = strings.TrimSpace(r.Title), strings.TrimSpace(r.Detail)
	r.SubmissionInfo, r.ImageURL = strings.TrimSpace(r.SubmissionInfo), strings.TrimSpace(r.ImageURL)
	r.Category = strings.TrimSpace(r.Category)
}

func (r createTaskRequest) text() task.Text {
	return task.Text{Title: r.Title, Detail: r.Detail, SubmissionInfo: r.SubmissionInfo, ImageURL: r.ImageURL}
}

type partyResponse struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type taskResponse struct {
	ID              string        `json:"id"`
	Title           string        `json:"task_title"`
	Detail          string        `json:"task_detail"`
	RequiredWorkers int           `json:"required_workers"`
	PayableAmount   int64         `json:"payable_amount"`
	CompletionDate  time.Time     `json:"completion_date"`
	SubmissionInfo  string        `json:"submission_info"`
	ImageURL        string        `json:"task_image_url"`
	Buyer           partyResponse `json:"buyer"`
	Status          string        `json:"status"`
	Category        string        `json:"category"`
	Tags            []string      `json:"tags"`
	TimeAllotted    int           `json:"time_allotted_minutes"` // how long a reservation holds a slot
	CreatedAt       time.Time     `json:"created_at"`
	// What the task asks of its workers: 0 and null for nothing.
	MinLevel     int                        `json:"min_level"`
	MinRating    *float64                   `json:"min_rating"`
	Countries    []string                   `json:"countries"`    // [] for any
	Requirements []qualificationRequirement `json:"requirements"` // [] for none
	// BuyerRecord is the buyer's track record, and BuyerRating the stars
	// workers gave them, read with it.
	BuyerRecord *buyerRecordResponse `json:"buyer_record"`
	BuyerRating ratingResponse       `json:"buyer_rating"`
	// The signed-in worker's own submission to the task, if any.
	MySubmission *mySubmissionResponse `json:"my_submission,omitempty"`
}

type mySubmissionResponse struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type deleteTaskResponse struct {
	ID       string `json:"id"`
	Refunded int64  `json:"refunded"`
}

// taskResponse tells a task's status as it is now (task.Task.StatusAt): an
// open task whose date passed is expired, one whose buyer can no longer run
// it is closed, and one with no free slot is full.
// recs holds the records of buyers (buyerRecords).
func (s *Server) taskResponse(t task.Task, recs map[string]reputation.Record) taskResponse {
	return taskResponse{
		ID: t.ID, Title: t.Title, Detail: t.Detail, RequiredWorkers: t.OpenSlots, PayableAmount: int64(t.Pay),
		CompletionDate: t.CompletionDate.UTC(), SubmissionInfo: t.SubmissionInfo, ImageURL: t.ImageURL,
		Buyer: partyResponse(t.Buyer), Status: string(s.tasks.StatusNow(t)), CreatedAt: t.CreatedAt.UTC(),
		TimeAllotted: int(t.TimeAllotted / time.Minute), Category: t.Category, Tags: t.Tags, BuyerRecord: toBuyerRecord(recs[t.Buyer.ID]),
		BuyerRating: toRating(recs[t.Buyer.ID]), MinLevel: t.Requirements.MinLevel, MinRating: nonZero(t.Requirements.MinRating),
		Countries: nonNilStrings(t.Requirements.Countries), Requirements: fromQualifications(t.Requirements.Qualifications),
	}
}

// nonZero is v, or null for 0: a requirement that asks nothing.
func nonZero(v float64) *float64 {
	if v == 0 {
		return nil
	}
	return &v
}

// handleTaskCreate handles POST /api/tasks.
func (s *Server) handleTaskCreate(w http.ResponseWriter, r *http.Request) error {
	var req createTaskRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	due, err := parseCompletionDate(req.CompletionDate)
	if err != nil {
		return err
	}
	t, err := s.tasks.Create(r.Context(), principal(r), task.NewTask{
		Text: req.text(), Workers: req.RequiredWorkers, Pay: money.Coins(req.PayableAmount), CompletionDate: due,
		TimeAllotted: time.Duration(req.TimeAllotted) * time.Minute,
		Key:          r.Header.Get("Idempotency-Key"), // checked by s.idempotent
		Category:     req.Category, Tags: req.Tags,
		Requirements: requirements(req.MinLevel, req.MinRating, req.Countries, req.Requirements),
	})
	if err != nil {
		return err
	}
	res, err := s.taskWithRecord(r.Context(), t)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/tasks/"+t.ID)
	return writeJSON(w, http.StatusCreated, res)
}

func parseCompletionDate(v string) (time.Time, error) {
	due, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, apperr.InvalidFields(apperr.FieldError{Field: "completion_date",
			Message: "must be an RFC 3339 date and time, e.g. 2026-12-31T23:59:00Z"})
	}
	return due, nil
}

// taskFilter reads the list parameters shared by GET /api/tasks and
// /api/tasks/available.
func taskFilter(q *query) task.Filter {
	return task.Filter{
		Query:    q.text("q", 100),
		MinPay:   money.Coins(q.int("min_pay", 0, 0, 1_000_000)),
		Sort:     q.oneOf("sort", task.SortNewest, task.SortNewest, task.SortPay, task.SortDeadline, task.SortEffectivePay),
		Category: q.oneOf("category", "", task.Categories...),
		Tag:      strings.ToLower(q.text("tag", task.MaxTagLen)),
	}
}

// listTasks answers both public lists. A signed-in worker's available
// tasks leave out those they submitted to; in the list of every live task
// they see their own submission to each.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, available bool) error {
	q := newQuery(r)
	f := taskFilter(q)
	f.Available = available
	worker := callingWorker(r)
	if available {
		f.NotBy = worker
	}
	var mine map[string]submission.Submission
	var recs map[string]reputation.Record
	return writePage(w, q, s.withBuyerRecords(r.Context(), func(p page.Request) (page.Of[task.Task], error) {
		res, err := s.tasks.List(r.Context(), f, p)
		if err == nil && worker != "" && !available {
			mine, err = s.submissions.ForTasks(r.Context(), worker, taskIDs(res.Items))
		}
		return res, err
	}, &recs), func(t task.Task) taskResponse { return withMySubmission(s.taskResponse(t, recs), mine) })
}

// callingWorker is the signed-in caller's id if they are a worker, or "".
func callingWorker(r *http.Request) string {
	if p, ok := auth.PrincipalFrom(r.Context()); ok && p.Is(auth.RoleWorker) {
		return p.UserID
	}
	return ""
}

func taskIDs(tasks []task.Task) []string {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return ids
}

// withMySubmission adds the worker's own submission to the task, if mine
// (theirs, by task id) has one.
func withMySubmission(res taskResponse, mine map[string]submission.Submission) taskResponse {
	if sub, ok := mine[res.ID]; ok {
		res.MySubmission = &mySubmissionResponse{ID: sub.ID, Status: string(sub.Status)}
	}
	return res
}

// handleTaskList handles GET /api/tasks.
func (s *Server) handleTaskList(w http.ResponseWriter, r *http.Request) error {
	return s.listTasks(w, r, false)
}

// handleTaskAvailable handles GET /api/tasks/available.
func (s *Server) handleTaskAvailable(w http.ResponseWriter, r *http.Request) error {
	return s.listTasks(w, r, true)
}

// handleTaskMine handles GET /api/tasks/my.
func (s *Server) handleTaskMine(w http.ResponseWriter, r *http.Request) error {
	var recs map[string]reputation.Record
	return writePage(w, newQuery(r), s.withBuyerRecords(r.Context(), func(p page.Request) (page.Of[task.Task], error) {
		return s.tasks.Mine(r.Context(), principal(r), p)
	}, &recs), func(t task.Task) taskResponse { return s.taskResponse(t, recs) })
}

// handleTaskGet handles GET /api/tasks/{id}.
func (s *Server) handleTaskGet(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tasks.Get(r.Context(), param(r, "id"))
	if err != nil {
		return err
	}
	var mine map[string]submission.Submission
	if worker := callingWorker(r); worker != "" {
		if mine, err = s.submissions.ForTasks(r.Context(), worker, []string{t.ID}); err != nil {
			return err
		}
	}
	res, err := s.taskWithRecord(r.Context(), t)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, withMySubmission(res, mine))
}

// handleTaskUpdate handles PUT and PATCH /api/tasks/{id}.
func (s *Server) handleTaskUpdate(w http.ResponseWriter, r *http.Request) error {
	var req taskEditRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	t, err := s.tasks.UpdateText(r.Context(), principal(r), param(r, "id"), req.edit())
	if err != nil {
		return err
	}
	res, err := s.taskWithRecord(r.Context(), t)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// handleTaskDelete handles DELETE /api/tasks/{id}.
func (s *Server) handleTaskDelete(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	refunded, err := s.tasks.Delete(r.Context(), principal(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deleteTaskResponse{ID: id, Refunded: int64(refunded)})
}

// addSlotsRequest is the body of POST /api/tasks/{id}/slots; its tag
// repeats the task service's bound.
type addSlotsRequest struct {
	Count int `json:"count" validate:"required,min=1,max=10000"`
}

// handleTaskAddSlots handles POST /api/tasks/{id}/slots.
func (s *Server) handleTaskAddSlots(w http.ResponseWriter, r *http.Request) error {
	var req addSlotsRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	t, err := s.tasks.AddSlots(r.Context(), principal(r), param(r, "id"), req.Count,
		r.Header.Get("Idempotency-Key")) // checked by s.idempotent
	if err != nil {
		return err
	}
	return s.writeTask(w, r, t)
}

type completionDateRequest struct {
	CompletionDate string `json:"completion_date" validate:"required"`
}

// handleTaskExtend handles PUT /api/tasks/{id}/completion-date.
func (s *Server) handleTaskExtend(w http.ResponseWriter, r *http.Request) error {
	var req completionDateRequest
	if err := s.readRequest(r, &req); err != nil {
		return err
	}
	due, err := parseCompletionDate(req.CompletionDate)
	if err != nil {
		return err
	}
	t, err := s.tasks.Extend(r.Context(), principal(r), param(r, "id"), due)
	if err != nil {
		return err
	}
	return s.writeTask(w, r, t)
}

// handleTaskClose handles POST /api/tasks/{id}/close.
func (s *Server) handleTaskClose(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	refunded, err := s.tasks.CloseEarly(r.Context(), principal(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deleteTaskResponse{ID: id, Refunded: int64(refunded)})
}

// handleTaskPause handles POST /api/tasks/{id}/pause and /resume.
func (s *Server) handleTaskPause(paused bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := s.tasks.SetPaused(r.Context(), principal(r), param(r, "id"), paused)
		if err != nil {
			return err
		}
		return s.writeTask(w, r, t)
	}
}

// writeTask answers with a task and its buyer's record.
func (s *Server) writeTask(w http.ResponseWriter, r *http.Request, t task.Task) error {
	res, err := s.taskWithRecord(r.Context(), t)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}
