package httpapi

import (
	"context"
	"math"
	"strconv"

	"microtask/internal/page"
	"microtask/internal/reputation"
	"microtask/internal/submission"
	"microtask/internal/task"
)

// workerRecordResponse is a worker's track record, shown to the buyers
// who review their work.
type workerRecordResponse struct {
	Approved     int64    `json:"approved"`
	Rejected     int64    `json:"rejected"`
	Revisions    int64    `json:"revisions"`
	ApprovalRate *float64 `json:"approval_rate"` // null before any review
}

// buyerRecordResponse is a buyer's track record, shown to workers on every
// task.
type buyerRecordResponse struct {
	TasksPosted       int64    `json:"tasks_posted"`
	Approved          int64    `json:"approved"`
	Rejected          int64    `json:"rejected"`
	ApprovalRate      *float64 `json:"approval_rate"`
	MedianReviewHours *float64 `json:"median_review_hours"`
}

// ratingResponse is the rating of a user: the stars of the reviews about
// them that count (visible, not removed), and their average.
type ratingResponse struct {
	Average *float64         `json:"average"` // null before any review counts
	Count   int64            `json:"count"`
	Stars   map[string]int64 `json:"stars"` // "1" to "5": how many reviews gave that many
}

func toRating(r reputation.Record) ratingResponse {
	res := ratingResponse{Stars: make(map[string]int64, reputation.MaxStars)}
	for i, n := range r.Stars {
		res.Stars[strconv.Itoa(i+1)] = n
	}
	if avg, n, ok := r.Rating(); ok {
		a := math.Round(avg*100) / 100
		res.Average, res.Count = &a, n
	}
	return res
}

// ratio rounds a rate to three decimals for people, null when there is none.
func ratio(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	r := math.Round(v*1000) / 1000
	return &r
}

func toWorkerRecord(r reputation.Record) *workerRecordResponse {
	return &workerRecordResponse{Approved: r.Approved, Rejected: r.Rejected, Revisions: r.Revisions, ApprovalRate: ratio(r.ApprovalRate())}
}

func toBuyerRecord(r reputation.Record) *buyerRecordResponse {
	res := &buyerRecordResponse{TasksPosted: r.TasksPosted, Approved: r.BuyerApproved, Rejected: r.BuyerRejected,
		ApprovalRate: ratio(r.BuyerApprovalRate())}
	if d, ok := r.MedianReviewTime(); ok {
		h := math.Round(d.Hours()*100) / 100
		res.MedianReviewHours = &h
	}
	return res
}

// records reads the track records of the users, in one read whatever
// their number.
func (s *Server) records(ctx context.Context, ids []string) (map[string]reputation.Record, error) {
	if s.reputation == nil {
		return map[string]reputation.Record{}, nil
	}
	return s.reputation.Records(ctx, ids)
}

// buyerRecords reads the records of the buyers of tasks.
func (s *Server) buyerRecords(ctx context.Context, tasks ...task.Task) (map[string]reputation.Record, error) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.Buyer.ID
	}
	return s.records(ctx, ids)
}

// taskWithRecord is one task's response with its buyer's record, read on
// its own.
func (s *Server) taskWithRecord(ctx context.Context, t task.Task) (taskResponse, error) {
	recs, err := s.buyerRecords(ctx, t)
	if err != nil {
		return taskResponse{}, err
	}
	return s.taskResponse(t, recs), nil
}

// withBuyerRecords wraps a list of tasks so that its page comes with the
// records of its buyers, read once for the page.
func (s *Server) withBuyerRecords(ctx context.Context, list func(page.Request) (page.Of[task.Task], error), recs *map[string]reputation.Record) func(page.Request) (page.Of[task.Task], error) {
	return func(p page.Request) (page.Of[task.Task], error) {
		res, err := list(p)
		if err == nil {
			*recs, err = s.buyerRecords(ctx, res.Items...)
		}
		return res, err
	}
}

// reviewPage answers a list of submissions for their buyer, each with its
// worker's record, read once for the page.
func (s *Server) reviewPage(ctx context.Context, list func(page.Request) (page.Of[submission.Submission], error)) (func(page.Request) (page.Of[submission.Submission], error), func(submission.Submission) submissionResponse) {
	var recs map[string]reputation.Record
	return func(p page.Request) (page.Of[submission.Submission], error) {
			res, err := list(p)
			if err != nil {
				return res, err
			}
			ids := make([]string, len(res.Items))
			for i, sub := range res.Items {
				ids[i] = sub.Worker.ID
			}
			recs, err = s.records(ctx, ids)
			return res, err
		}, func(sub submission.Submission) submissionResponse {
			res := toSubmissionResponse(sub)
			res.WorkerRecord = toWorkerRecord(recs[sub.Worker.ID])
			return res
		}
}
