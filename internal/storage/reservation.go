package storage

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/docdb"
	"microtask/internal/page"
	"microtask/internal/reservation"
)

// ReservationStore keeps the reservations collection: one document per
// worker and task, reused by each new reservation of the pair. It
// implements reservation.Store.
type ReservationStore struct {
	reservations docdb.Collection
}

// NewReservationStore returns the reservations store on d.
func NewReservationStore(d *docdb.DB) *ReservationStore {
	return &ReservationStore{reservations: d.Collection("reservations")}
}

var _ reservation.Store = (*ReservationStore)(nil)

type reservationDoc struct {
	ID        string     `bson:"_id"`
	Seq       int64      `bson:"seq"`
	TaskID    string     `bson:"task_id"`
	TaskTitle string     `bson:"task_title"`
	WorkerID  string     `bson:"worker_id"`
	Status    string     `bson:"status"`
	ExpiresAt time.Time  `bson:"expires_at"`
	CreatedAt time.Time  `bson:"created_at"`
	EndedAt   *time.Time `bson:"ended_at,omitempty"`
}

func reservationFromDoc(d reservationDoc) reservation.Reservation {
	r := reservation.Reservation{
		ID: d.ID, Seq: int(d.Seq), TaskID: d.TaskID, TaskTitle: d.TaskTitle, WorkerID: d.WorkerID,
		Status: reservation.Status(d.Status), ExpiresAt: d.ExpiresAt, CreatedAt: d.CreatedAt,
	}
	if d.EndedAt != nil {
		r.EndedAt = *d.EndedAt
	}
	return r
}

// ByID implements reservation.Store.
func (s *ReservationStore) ByID(ctx context.Context, id string) (reservation.Reservation, error) {
	var d reservationDoc
	err := s.reservations.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d)
	if errors.Is(err, docdb.ErrNoDocument) {
		return reservation.Reservation{}, reservation.ErrNotFound
	}
	return reservationFromDoc(d), err
}

// Start implements reservation.Store: the pair's document takes r's place
// if it holds an earlier reservation, or is made; one with r's Seq already
// (the same operation settling again) stays as it is.
func (s *ReservationStore) Start(ctx context.Context, r reservation.Reservation) error {
	_, err := s.reservations.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: r.ID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: int64(r.Seq)}}}},
		bson.D{
			{Key: "$set", Value: bson.D{
				{Key: "seq", Value: int64(r.Seq)}, {Key: "task_id", Value: r.TaskID}, {Key: "task_title", Value: r.TaskTitle},
				{Key: "worker_id", Value: r.WorkerID}, {Key: "status", Value: string(reservation.StatusLive)},
				{Key: "expires_at", Value: r.ExpiresAt}, {Key: "created_at", Value: r.CreatedAt},
			}},
			{Key: "$unset", Value: bson.D{{Key: "ended_at", Value: ""}}},
		}, true)
	if docdb.IsDuplicate(err) {
		return nil
	}
	return err
}

// End implements reservation.Store.
func (s *ReservationStore) End(ctx context.Context, id string, seq int, from []reservation.Status, to reservation.Status, at time.Time) (bool, error) {
	in := make(bson.A, len(from))
	for i, st := range from {
		in[i] = string(st)
	}
	n, err := s.reservations.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: int64(seq)}, {Key: "status", Value: bson.D{{Key: "$in", Value: in}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: string(to)}, {Key: "ended_at", Value: at}}}}, false)
	return n == 1, err
}

func liveOf(workerID string) bson.D {
	return bson.D{{Key: "worker_id", Value: workerID}, {Key: "status", Value: string(reservation.StatusLive)}}
}

// Live implements reservation.Store: one find and one count.
func (s *ReservationStore) Live(ctx context.Context, workerID string, p page.Request) ([]reservation.Reservation, int64, error) {
	return docdb.FindPage(ctx, s.reservations, liveOf(workerID),
		bson.D{{Key: "expires_at", Value: 1}, {Key: "_id", Value: 1}}, p, reservationFromDoc)
}

// CountLive implements reservation.Store.
func (s *ReservationStore) CountLive(ctx context.Context, workerID string) (int64, error) {
	return s.reservations.Count(ctx, liveOf(workerID))
}

// TaskIDs implements reservation.Store.
func (s *ReservationStore) TaskIDs(ctx context.Context, workerID string, limit int) ([]string, error) {
	return docdb.FindAll(ctx, s.reservations, bson.D{{Key: "worker_id", Value: workerID}},
		docdb.Query{Sort: bson.D{{Key: "expires_at", Value: -1}}, Limit: int64(limit), Fields: []string{"task_id"}},
		func(d struct {
			TaskID string `bson:"task_id"`
		}) string {
			return d.TaskID
		})
}

// Due implements reservation.Store.
func (s *ReservationStore) Due(ctx context.Context, now time.Time, limit int) ([]reservation.Reservation, error) {
	return docdb.FindAll(ctx, s.reservations,
		bson.D{{Key: "status", Value: string(reservation.StatusLive)}, {Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}},
		docdb.Query{Sort: bson.D{{Key: "expires_at", Value: 1}}, Limit: int64(limit)}, reservationFromDoc)
}
