// Package review is what people write of each other after decided work:
// the buyer of a submission reviews its worker and the worker its buyer,
// once each, with 1 to 5 stars and a comment, within 30 days of the
// decision. The reviewed party may reply once; an admin may remove a
// review.
//
// Reviews are double-blind, so that nobody retaliates: a review is
// visible to the other party and the public only once both parties have
// reviewed, or 14 days after the decision, whichever comes first. Its
// visibility is a time (VisibleAt), set to the deadline when it is written
// and brought forward when the other party writes theirs: at 14 days it is
// visible without any write.
//
// A review counts in the reviewed party's rating (package reputation) once
// it is visible, once: the second review of a pair counts both as it is
// written, and a job (CountDue) counts those that became visible by time,
// and takes removed ones out. A review records whether it is counted,
// after the rating's addition, which is itself made once per review
// (reputation.Store.Add): a crash in between is finished by the job.
//
// What a review is about is a Subject: a submission of a task, or a
// contract of a project (decided once it ended), with the same documents.
package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"microtask/internal/apperr"
	"microtask/internal/auth"
	"microtask/internal/page"
)

// SubjectType is the kind of work a review is about.
type SubjectType string

// The kinds of work reviewed.
const (
	SubjectSubmission SubjectType = "submission"
	SubjectContract   SubjectType = "contract" // decided once ended, by either party
)

// Ref names a piece of work.
type Ref struct {
	Type SubjectType
	ID   string
}

// Party is a user on either side of a piece of work.
type Party struct {
	ID   string
	Name string
}

// Subject is a piece of work as reviews see it: its two parties, its
// title, and whether and when it was decided.
type Subject struct {
	Ref
	Title     string
	Buyer     Party
	Worker    Party
	Decided   bool // approved or rejected (a submission), ended (a contract)
	DecidedAt time.Time
}

// Timing of reviews.
const (
	// BlindFor is how long after the decision a review stays hidden from
	// the other party and the public, unless both reviewed before.
	BlindFor = 14 * 24 * time.Hour
	// Window is how long after the decision a party may review.
	Window = 30 * 24 * time.Hour
)

// Bounds of what reviews hold, in characters.
const (
	MinRating           = 1
	MaxRating           = 5
	MaxCommentLen       = 2000
	MaxReplyLen         = 2000
	MaxRemovalReasonLen = 500
)

// Review is one party's review of the other after a piece of work.
type Review struct {
	ID           string
	Subject      Ref
	SubjectTitle string
	Author       Party
	AuthorRole   auth.Role // worker or buyer: their side of the work
	RevieweeID   string
	Rating       int
	Comment      string
	CreatedAt    time.Time
	DecidedAt    time.Time
	// VisibleAt is when the review shows to the reviewee and the public:
	// 14 days after the decision, or when the other party reviewed.
	VisibleAt time.Time
	// Counted says the review is in the reviewee's rating.
	Counted   bool
	Reply     string
	RepliedAt time.Time // zero until the reviewee replies
	// Removal by an admin: the review shows to no one but admins, and
	// leaves the rating.
	Removed       bool
	RemovedAt     time.Time
	RemovedBy     string
	RemovalReason string
}

// Status is how a review stands for those who may see it.
type Status string

// The statuses.
const (
	StatusVisible Status = "visible"
	// StatusPending is a review only its author (and admins) may see yet.
	StatusPending Status = "pending_visibility"
	StatusRemoved Status = "removed"
)

// StatusAt is how the review stands at now.
func (r Review) StatusAt(now time.Time) Status {
	switch {
	case r.Removed:
		return StatusRemoved
	case now.Before(r.VisibleAt):
		return StatusPending
	}
	return StatusVisible
}

// ID is the ID of the review of a piece of work by one of its parties: a
// party reviews a piece of work once, so the pair names the review, and the
// other party's review is found by its ID.
func ID(ref Ref, authorID string) string {
	sum := sha256.Sum256([]byte(string(ref.Type) + "|" + ref.ID + "|" + authorID))
	return hex.EncodeToString(sum[:12])
}

// Errors.
var (
	ErrNotFound        = apperr.New(apperr.NotFound, "review_not_found", "no such review")
	ErrAlreadyReviewed = apperr.New(apperr.Conflict, "already_reviewed", "you have reviewed this piece of work already")
	ErrNotDecided      = apperr.New(apperr.Conflict, "not_decided",
		"the work is not decided yet: a submission is reviewed once approved or rejected")
	ErrWindowClosed = apperr.New(apperr.Conflict, "review_window_closed",
		"the work was decided more than 30 days ago: it can no longer be reviewed")
	ErrAlreadyReplied = apperr.New(apperr.Conflict, "already_replied", "you have replied to this review already")
	ErrRemoved        = apperr.New(apperr.Conflict, "review_removed", "the review was removed already")
)

// Store keeps the reviews; storage.ReviewStore implements it.
type Store interface {
	// Insert adds r. ErrAlreadyReviewed if its ID exists.
	Insert(ctx context.Context, r Review) error
	// ByID returns a review. ErrNotFound if missing.
	ByID(ctx context.Context, id string) (Review, error)
	// Reveal makes the review visible at at, if it exists, is not removed
	// and is not counted yet. False if there is no such review.
	Reveal(ctx context.Context, id string, at time.Time) (bool, error)
	// About returns a page of the reviews about a user that are visible at
	// now and not removed, newest first, of rating stars if rating is not
	// 0, and their count.
	About(ctx context.Context, revieweeID string, rating int, now time.Time, p page.Request) ([]Review, int64, error)
	// Due returns up to limit reviews whose counting is to change: visible
	// at now, not removed and not counted, or removed and counted.
	Due(ctx context.Context, now time.Time, limit int) ([]Review, error)
	// SetCounted records that the reviews among ids counted as from are
	// counted as to now.
	SetCounted(ctx context.Context, ids []string, from, to bool) error
	// Reply records the reviewee's reply to a review not removed that has
	// none. False if it is not so.
	Reply(ctx context.Context, id, revieweeID, text string, at time.Time) (bool, error)
	// Remove marks a review not removed yet as removed. False if it is not
	// so.
	Remove(ctx context.Context, id, adminID, reason string, at time.Time) (bool, error)
}

// Subjects finds the work reviews are about; the wiring adapts the
// submission service to it (and the contracts', once there are contracts).
type Subjects interface {
	// Subject returns the work ref names if userID is one of its parties.
	// To anyone else, as when it does not exist, it answers the work's own
	// not-found error (submission_not_found).
	Subject(ctx context.Context, ref Ref, userID string) (Subject, error)
}

// Ratings counts reviews in their reviewees' ratings, once per op however
// often it is asked; reputation.Service implements it.
type Ratings interface {
	Rated(ctx context.Context, op, userID string, stars int) error
	Unrated(ctx context.Context, op, userID string, stars int) error
}

// Users says whether a user's profile, and so their reviews, are public;
// user.Service implements it.
type Users interface {
	// Shown returns nil for a user shown to the public, and their
	// not-found error for one suspended, deleted or missing.
	Shown(ctx context.Context, id string) error
}
