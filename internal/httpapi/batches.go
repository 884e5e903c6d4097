package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/batch"
	"microtask/internal/money"
	"microtask/internal/page"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// MaxBatchBody is the body limit of POST /api/batches: a template and a
// CSV file of up to 1,000 rows.
const MaxBatchBody = 4 << 20

// batchTemplateRequest is the template of POST /api/batches, the fields of
// POST /api/tasks; the batch service checks it, with every row.
type batchTemplateRequest struct {
	Title           string   `json:"task_title"`
	Detail          string   `json:"task_detail"`
	SubmissionInfo  string   `json:"submission_info"`
	ImageURL        string   `json:"task_image_url"`
	RequiredWorkers int      `json:"required_workers"`
	PayableAmount   int64    `json:"payable_amount"`
	CompletionDate  string   `json:"completion_date"`
	Category        string   `json:"category"`
	Tags            []string `json:"tags"`
	TimeAllotted    int      `json:"time_allotted_minutes"`
	// Requirements, as POST /api/tasks takes them.
	MinLevel     int                        `json:"min_level"`
	MinRating    float64                    `json:"min_rating"`
	Countries    []string                   `json:"countries"`
	Requirements []qualificationRequirement `json:"requirements"`
}

// formPart reads a form field given as a value or as a file, at most max
// bytes; ok is false when the form has neither.
func formPart(form *multipart.Form, field string, max int64) (data []byte, ok bool, err error) {
	if files := form.File[field]; len(files) > 0 {
		if len(files) > 1 {
			return nil, true, apperr.InvalidFields(apperr.FieldError{Field: field, Message: "send one file"})
		}
		f, err := files[0].Open()
		if err != nil {
			return nil, true, errBadMultipart
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, max+1))
		if err != nil {
			return nil, true, errBadMultipart
		}
		if int64(len(data)) > max {
			return nil, true, errTooLarge.WithMessage("%s is larger than %d bytes", field, max)
		}
		return data, true, nil
	}
	if vs := form.Value[field]; len(vs) > 0 {
		return []byte(vs[0]), true, nil
	}
	return nil, false, nil
}

// readBatch reads the multipart form of POST /api/batches: template (JSON,
// as a value or a file), items (the CSV file) and an optional name.
func readBatch(r *http.Request) (batch.NewBatch, error) {
	if !isMultipart(r) {
		return batch.NewBatch{}, apperr.New(apperr.Unsupported, "unsupported_media_type",
			"send the batch as multipart/form-data: template (JSON) and items (a CSV file)")
	}
	if err := r.ParseMultipartForm(MaxBatchBody); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return batch.NewBatch{}, errTooLarge.WithMessage("the request body is larger than %d bytes", maxErr.Limit)
		}
		return batch.NewBatch{}, errBadMultipart
	}
	form := r.MultipartForm
	var bad apperr.Fields
	for name := range form.Value {
		if !slices.Contains([]string{"template", "items", "name"}, name) {
			bad.Add(name, "is not a field of this request")
		}
	}
	for name := range form.File {
		if !slices.Contains([]string{"template", "items"}, name) {
			bad.Add(name, "is not a field of this request")
		}
	}
	in := batch.NewBatch{Key: r.Header.Get("Idempotency-Key")} // checked by s.idempotent
	if vs := form.Value["name"]; len(vs) > 0 {
		in.Name = vs[0]
	}
	raw, ok, err := formPart(form, "template", 64<<10)
	switch {
	case err != nil:
		return batch.NewBatch{}, err
	case !ok:
		bad.Add("template", "is required: the tasks' fields as JSON")
	default:
		var t batchTemplateRequest
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			bad.Add("template", "must be a JSON object of the fields of POST /api/tasks (%v)", err)
			break
		}
		in.Template = task.NewTask{
			Text:    task.Text{Title: t.Title, Detail: t.Detail, SubmissionInfo: t.SubmissionInfo, ImageURL: strings.TrimSpace(t.ImageURL)},
			Workers: t.RequiredWorkers, Pay: money.Coins(t.PayableAmount), Category: strings.TrimSpace(t.Category), Tags: t.Tags,
			TimeAllotted: time.Duration(t.TimeAllotted) * time.Minute,
			Requirements: requirements(t.MinLevel, t.MinRating, t.Countries, t.Requirements),
		}
		if in.Template.CompletionDate, err = time.Parse(time.RFC3339, strings.TrimSpace(t.CompletionDate)); err != nil {
			bad.Add("template.completion_date", "must be an RFC 3339 date and time, e.g. 2026-12-31T23:59:00Z")
		}
	}
	if in.Items, ok, err = formPart(form, "items", MaxBatchBody); err != nil {
		return batch.NewBatch{}, err
	} else if !ok {
		bad.Add("items", "is required: a CSV file with a header line and a row per task")
	}
	return in, bad.Err()
}

type batchTemplateResponse struct {
	Title           string                     `json:"task_title"`
	Detail          string                     `json:"task_detail"`
	SubmissionInfo  string                     `json:"submission_info"`
	ImageURL        string                     `json:"task_image_url"`
	RequiredWorkers int                        `json:"required_workers"`
	PayableAmount   int64                      `json:"payable_amount"`
	CompletionDate  time.Time                  `json:"completion_date"`
	Category        string                     `json:"category"`
	Tags            []string                   `json:"tags"`
	TimeAllotted    int                        `json:"time_allotted_minutes"`
	MinLevel        int                        `json:"min_level"`
	MinRating       *float64                   `json:"min_rating"`
	Countries       []string                   `json:"countries"`
	Requirements    []qualificationRequirement `json:"requirements"`
}

type batchResponse struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Status      string                `json:"status"`
	Rows        int                   `json:"rows"`
	Columns     []string              `json:"columns"`
	Template    batchTemplateResponse `json:"template"`
	CreatedAt   time.Time             `json:"created_at"`
	ClosedAt    *time.Time            `json:"closed_at"`
	CompletedAt *time.Time            `json:"completed_at"`
}

func toBatchResponse(b batch.Batch) batchResponse {
	t := b.Template
	res := batchResponse{ID: b.ID, Name: b.Name, Status: string(b.Status), Rows: b.Rows, Columns: b.Columns, CreatedAt: b.CreatedAt.UTC(),
		Template: batchTemplateResponse{Title: t.Title, Detail: t.Detail, SubmissionInfo: t.SubmissionInfo, ImageURL: t.ImageURL,
			RequiredWorkers: t.Workers, PayableAmount: int64(t.Pay), CompletionDate: t.CompletionDate.UTC(), Category: t.Category,
			Tags: t.Tags, TimeAllotted: int(t.TimeAllotted / time.Minute), MinLevel: t.Requirements.MinLevel,
			MinRating: nonZero(t.Requirements.MinRating), Countries: nonNilStrings(t.Requirements.Countries),
			Requirements: fromQualifications(t.Requirements.Qualifications)}}
	if res.Template.Tags == nil {
		res.Template.Tags = []string{}
	}
	if !b.ClosedAt.IsZero() {
		at := b.ClosedAt.UTC()
		res.ClosedAt = &at
	}
	if !b.CompletedAt.IsZero() {
		at := b.CompletedAt.UTC()
		res.CompletedAt = &at
	}
	return res
}

// batchDetailResponse is a batch with the counts and coins of its tasks.
type batchDetailResponse struct {
	batchResponse
	Tasks       map[string]int     `json:"tasks"`
	Submissions map[string]int     `json:"submissions"`
	Coins       batchCoinsResponse `json:"coins"`
}

type batchCoinsResponse struct {
	Funded   int64 `json:"funded"`
	Escrowed int64 `json:"escrowed"`
	Paid     int64 `json:"paid"`
	Refunded int64 `json:"refunded"`
}

func toBatchDetail(b batch.Batch, st batch.Stats) batchDetailResponse {
	res := batchDetailResponse{batchResponse: toBatchResponse(b), Tasks: map[string]int{}, Submissions: map[string]int{},
		Coins: batchCoinsResponse{Funded: int64(st.Funded), Escrowed: int64(st.Escrowed), Paid: int64(st.Paid), Refunded: int64(st.Refunded)}}
	for _, s := range []task.Status{task.StatusOpen, task.StatusFull, task.StatusPaused, task.StatusClosed, task.StatusExpired, task.StatusDeleted} {
		res.Tasks[string(s)] = st.Tasks[s]
	}
	for _, s := range submission.Statuses {
		res.Submissions[string(s)] = st.Submissions[s]
	}
	return res
}

// handleBatchCreate handles POST /api/batches.
func (s *Server) handleBatchCreate(w http.ResponseWriter, r *http.Request) error {
	in, err := readBatch(r)
	if err != nil {
		return err
	}
	b, err := s.batches.Create(r.Context(), principal(r), in)
	if err != nil {
		return err
	}
	b, st, err := s.batches.Get(r.Context(), principal(r), b.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/batches/"+b.ID)
	return writeJSON(w, http.StatusCreated, toBatchDetail(b, st))
}

// handleBatchList handles GET /api/batches.
func (s *Server) handleBatchList(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, newQuery(r), func(p page.Request) (page.Of[batch.Batch], error) {
		return s.batches.List(r.Context(), principal(r), p)
	}, toBatchResponse)
}

// handleBatchGet handles GET /api/batches/{id}.
func (s *Server) handleBatchGet(w http.ResponseWriter, r *http.Request) error {
	b, st, err := s.batches.Get(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toBatchDetail(b, st))
}

// handleBatchClose handles POST /api/batches/{id}/close.
func (s *Server) handleBatchClose(w http.ResponseWriter, r *http.Request) error {
	b, st, err := s.batches.Close(r.Context(), principal(r), param(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toBatchDetail(b, st))
}

// resultColumns follow each row's own columns in the results.
var resultColumns = []string{"task_id", "submission_id", "worker_id", "status", "submitted_at", "decided_at", "proof"}

// handleBatchResults handles GET /api/batches/{id}/results.csv: one line
// per submission, streamed as it is read (flushed every hundred lines).
// Once the header is out, a failure can only cut the file short: it is
// logged, and the connection dropped so the client sees it incomplete.
func (s *Server) handleBatchResults(w http.ResponseWriter, r *http.Request) error {
	cw := csv.NewWriter(w)
	started := false
	lines := 0
	flusher, _ := w.(http.Flusher)
	err := s.batches.Results(r.Context(), principal(r), param(r, "id"), func(columns []string) error {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="batch-`+param(r, "id")+`-results.csv"`)
		w.WriteHeader(http.StatusOK)
		started = true
		return cw.Write(append(slices.Clone(columns), resultColumns...))
	}, func(res batch.Result) error {
		sub := res.Submission
		decided := ""
		if !sub.ReviewedAt.IsZero() {
			decided = sub.ReviewedAt.UTC().Format(time.RFC3339)
		}
		line := append(slices.Clone(res.Row.Values), sub.TaskID, sub.ID, sub.Worker.ID, string(sub.Status),
			sub.CreatedAt.UTC().Format(time.RFC3339), decided, sub.Details)
		if err := cw.Write(line); err != nil {
			return err
		}
		if lines++; lines%100 == 0 {
			cw.Flush()
			if flusher != nil {
				flusher.Flush()
			}
		}
		return cw.Error()
	})
	if err != nil && !started {
		return err
	}
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "batch results cut short", "batch_id", param(r, "id"), "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
