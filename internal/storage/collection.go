package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"microtask/internal/page"
	"microtask/internal/storage/mirror"
)

// collection wraps a driver collection so that every write passes the gate
// and, on the embedded database, reads come from the in-memory copy and
// writes keep it current: stores cannot forget either, because they only see
// these methods.
type collection struct {
	c        *mongo.Collection
	gate     gate
	copy     *copyOf   // nil: reads go to the server
	embedded *Embedded // nil unless this process runs the server
}

// writeTimeout bounds a write sent under the gate. The write does not follow
// the request's context: a client hanging up must not cut a write off midway,
// leaving unknown what the database holds.
const writeTimeout = 30 * time.Second

func (c collection) insertOne(ctx context.Context, doc any) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	return c.insert(ctx, []bson.Raw{raw}, true)
}

func (c collection) insertMany(ctx context.Context, docs []any, ordered bool) error {
	raws := make([]bson.Raw, len(docs))
	for i, d := range docs {
		var err error
		if raws[i], err = bson.Marshal(d); err != nil {
			return err
		}
	}
	return c.insert(ctx, raws, ordered)
}

func (c collection) insert(ctx context.Context, docs []bson.Raw, ordered bool) error {
	return c.write(ctx, func(m *mirror.Collection) ([]mirror.Change, error) {
		return m.PlanInsert(docs)
	}, func(ctx context.Context) error {
		if len(docs) == 1 {
			_, err := c.c.InsertOne(ctx, docs[0])
			return err
		}
		batch := make([]any, len(docs))
		for i, d := range docs {
			batch[i] = d
		}
		_, err := c.c.InsertMany(ctx, batch, options.InsertMany().SetOrdered(ordered))
		return err
	}, ordered)
}

// updateOne applies update to the first document matching filter (or with
// upsert inserts one) and returns how many it matched or inserted (0 or 1).
func (c collection) updateOne(ctx context.Context, filter, update bson.D, upsert bool) (int64, error) {
	return c.update(ctx, filter, update, upsert, false)
}

// updateMany applies update to every document matching filter and returns
// how many matched.
func (c collection) updateMany(ctx context.Context, filter, update bson.D) (int64, error) {
	return c.update(ctx, filter, update, false, true)
}

func (c collection) update(ctx context.Context, filter, update bson.D, upsert, many bool) (int64, error) {
	var n int64
	err := c.write(ctx, func(m *mirror.Collection) ([]mirror.Change, error) {
		f, u, err := marshalBoth(filter, update)
		if err != nil {
			return nil, err
		}
		changes, matched, err := m.PlanUpdate(f, u, upsert, many)
		n = int64(matched)
		if matched == 0 && len(changes) == 1 {
			n = 1 // an upsert inserts
		}
		return changes, err
	}, func(ctx context.Context) error {
		var res *mongo.UpdateResult
		var err error
		if many {
			res, err = c.c.UpdateMany(ctx, filter, update)
		} else {
			res, err = c.c.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(upsert))
		}
		if err == nil {
			n = res.MatchedCount + res.UpsertedCount
		}
		return err
	}, true)
	return n, err
}

// deleteOne deletes the first document matching filter and returns how many
// it deleted (0 or 1).
func (c collection) deleteOne(ctx context.Context, filter bson.D) (int64, error) {
	var n int64
	err := c.write(ctx, func(m *mirror.Collection) ([]mirror.Change, error) {
		f, err := bson.Marshal(filter)
		if err != nil {
			return nil, err
		}
		changes, err := m.PlanDelete(f, false)
		n = int64(len(changes))
		return changes, err
	}, func(ctx context.Context) error {
		res, err := c.c.DeleteOne(ctx, filter)
		if err == nil {
			n = res.DeletedCount
		}
		return err
	}, true)
	return n, err
}

// write runs one write command under the gate. Reading from the server, it
// sends it as is. With an in-memory copy, plan computes from the copy what
// the write does to which documents; those changes go to the database as
// inserts, replacements and deletions by _id, which FerretDB finds through
// the _id index, and the copy takes the ones the database accepted.
func (c collection) write(ctx context.Context, plan func(*mirror.Collection) ([]mirror.Change, error), send func(context.Context) error, ordered bool) error {
	leave, err := c.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if c.copy == nil {
		err = send(wctx)
	} else {
		err = c.writeThroughCopy(wctx, plan, ordered)
	}
	if err == nil && c.embedded != nil {
		// The write may have created the collection.
		if ierr := c.embedded.indexIDs(wctx, c.c.Database().Name(), c.c.Name()); ierr != nil {
			return ierr
		}
	}
	return err
}

func (c collection) writeThroughCopy(ctx context.Context, plan func(*mirror.Collection) ([]mirror.Change, error), ordered bool) error {
	m, err := c.loadedCopy(ctx)
	if err != nil {
		return err
	}
	changes, err := plan(m)
	if err != nil {
		return err
	}
	var models []mongo.WriteModel
	var sent []mirror.Change // the changes behind models, index for index
	for _, ch := range changes {
		id := bson.D{{Key: "_id", Value: ch.ID}}
		switch {
		case ch.Unchanged():
			continue
		case ch.Old == nil:
			models = append(models, mongo.NewInsertOneModel().SetDocument(ch.New))
		case ch.New == nil:
			models = append(models, mongo.NewDeleteOneModel().SetFilter(id))
		default:
			models = append(models, mongo.NewReplaceOneModel().SetFilter(id).SetReplacement(ch.New))
		}
		sent = append(sent, ch)
	}
	if len(models) == 0 {
		return nil
	}
	_, err = c.c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(ordered))
	done, definite := applied(err, len(sent), ordered)
	if !definite {
		// What the database holds is unknown: read it again on next use.
		c.copy.drop()
		return err
	}
	var ok []mirror.Change
	for i, ch := range sent {
		if done[i] {
			ok = append(ok, ch)
		}
	}
	if cerr := m.Commit(ok); cerr != nil {
		c.copy.drop()
		return errors.Join(err, cerr)
	}
	return err
}

// applied says which of n models of a bulk write the database applied, and
// whether that is known for sure: it is when the server answered, with
// success or with errors for some models.
func applied(err error, n int, ordered bool) (done []bool, definite bool) {
	done = make([]bool, n)
	if err == nil {
		for i := range done {
			done[i] = true
		}
		return done, true
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return done, false
	}
	failed := map[int]bool{}
	first := n
	for _, we := range bwe.WriteErrors {
		failed[we.Index] = true
		first = min(first, we.Index)
	}
	for i := range done {
		done[i] = !failed[i] && (!ordered || i < first)
	}
	return done, true
}

func marshalBoth(a, b any) (bson.Raw, bson.Raw, error) {
	ra, err := bson.Marshal(a)
	if err != nil {
		return nil, nil, err
	}
	rb, err := bson.Marshal(b)
	return ra, rb, err
}

// findOne decodes the first document matching filter into out. It returns
// errNoDocument when there is none.
func (c collection) findOne(ctx context.Context, filter bson.D, out any) error {
	if c.copy == nil {
		err := c.c.FindOne(ctx, filter).Decode(out)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return errNoDocument
		}
		return err
	}
	docs, _, err := c.findCopy(ctx, filter, query{limit: 1})
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return errNoDocument
	}
	return bson.Unmarshal(docs[0], out)
}

// count counts the documents matching filter.
func (c collection) count(ctx context.Context, filter bson.D) (int64, error) {
	if c.copy == nil {
		return c.c.CountDocuments(ctx, filter)
	}
	m, f, err := c.readCopyFor(ctx, filter)
	if err != nil {
		return 0, err
	}
	n, err := m.Count(f)
	return int64(n), err
}

// sum adds up a numeric field over the documents matching filter, in one
// aggregation with a single accumulator (FerretDB computes only the first
// accumulator of a $group).
func (c collection) sum(ctx context.Context, filter bson.D, field string) (int64, error) {
	if c.copy != nil {
		m, f, err := c.readCopyFor(ctx, filter)
		if err != nil {
			return 0, err
		}
		return m.Sum(f, field)
	}
	cur, err := c.c.Aggregate(ctx, bson.A{
		bson.D{{Key: "$match", Value: filter}},
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "total", Value: bson.D{{Key: "$sum", Value: "$" + field}}}}}},
	})
	if err != nil {
		return 0, err
	}
	defer cur.Close(ctx)
	var res []struct {
		Total int64 `bson:"total"`
	}
	if err := cur.All(ctx, &res); err != nil || len(res) == 0 {
		return 0, err
	}
	return res[0].Total, nil
}

// query is how a find orders and cuts its results.
type query struct {
	sort        bson.D
	skip, limit int64 // limit 0: no limit
}

func (q query) options() *options.FindOptionsBuilder {
	o := options.Find().SetSkip(q.skip).SetLimit(q.limit)
	if q.sort != nil {
		o.SetSort(q.sort)
	}
	return o
}

// readCopyFor returns the copy to read from and the filter as the copy
// takes it.
func (c collection) readCopyFor(ctx context.Context, filter bson.D) (*mirror.Collection, bson.Raw, error) {
	m, err := c.readCopy(ctx)
	if err != nil {
		return nil, nil, err
	}
	f, err := bson.Marshal(filter)
	return m, f, err
}

func (c collection) findCopy(ctx context.Context, filter bson.D, q query) ([]bson.Raw, int, error) {
	m, f, err := c.readCopyFor(ctx, filter)
	if err != nil {
		return nil, 0, err
	}
	var s bson.Raw
	if q.sort != nil {
		if s, err = bson.Marshal(q.sort); err != nil {
			return nil, 0, err
		}
	}
	return m.Find(mirror.Query{Filter: f, Sort: s, Skip: q.skip, Limit: q.limit})
}

// each calls fn with every document matching filter, decoded into a fresh T.
func each[T any](ctx context.Context, c collection, filter bson.D, q query, fn func(T) error) error {
	if c.copy != nil {
		docs, _, err := c.findCopy(ctx, filter, q)
		if err != nil {
			return err
		}
		for _, d := range docs {
			var v T
			if err := bson.Unmarshal(d, &v); err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	}
	cur, err := c.c.Find(ctx, filter, q.options())
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var v T
		if err := cur.Decode(&v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return cur.Err()
}

// newestFirst is the order of most lists; _id breaks ties, so that pages
// neither repeat nor skip items created in the same millisecond.
var newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}

// findAll returns the documents matching filter, each decoded as a D and
// turned into a T by conv (nil when none match).
func findAll[D, T any](ctx context.Context, c collection, filter bson.D, q query, conv func(D) T) ([]T, error) {
	var out []T
	err := each(ctx, c, filter, q, func(d D) error {
		out = append(out, conv(d))
		return nil
	})
	return out, err
}

// findPage returns page p of the documents matching filter in sort order,
// turned into Ts by conv, and how many documents match: one find and one
// count, which is what every list endpoint costs (one pass over the
// in-memory copy on the embedded database). An empty page is an empty
// slice, which JSON shows as [] rather than null.
func findPage[D, T any](ctx context.Context, c collection, filter, sort bson.D, p page.Request, conv func(D) T) ([]T, int64, error) {
	q := query{sort: sort, skip: p.Skip(), limit: int64(p.Limit)}
	if c.copy != nil {
		docs, total, err := c.findCopy(ctx, filter, q)
		if err != nil {
			return nil, 0, err
		}
		out := make([]T, 0, len(docs))
		for _, raw := range docs {
			var d D
			if err := bson.Unmarshal(raw, &d); err != nil {
				return nil, 0, err
			}
			out = append(out, conv(d))
		}
		return out, int64(total), nil
	}
	out, err := findAll(ctx, c, filter, q, conv)
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		out = []T{}
	}
	n, err := c.count(ctx, filter)
	return out, n, err
}

// commitOnce applies a ledger operation's commit update to the document id.
// Its filter q leaves out documents that already record the operation, so
// when nothing matched, the document is read and done says whether it
// records it, that is, whether the commit happened before. A missing
// document has not committed.
func commitOnce[D any](ctx context.Context, c collection, id string, q, update bson.D, done func(D) bool) (bool, error) {
	n, err := c.updateOne(ctx, q, update, false)
	if err != nil || n == 1 {
		return n == 1, err
	}
	var d D
	if err := c.findOne(ctx, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		if errors.Is(err, errNoDocument) {
			return false, nil
		}
		return false, err
	}
	return done(d), nil
}

// runCommand runs a database command through the gate. A command naming a
// collection (createIndexes, insert...) sends that collection's copy back to
// be loaded again, with the indexes and documents the command left.
func (d *DB) runCommand(ctx context.Context, cmd bson.D) error {
	leave, err := d.gate.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	err = d.db.RunCommand(ctx, cmd).Err()
	if len(cmd) == 0 {
		return err
	}
	name, ok := cmd[0].Value.(string)
	if !ok {
		return err
	}
	if d.copies != nil {
		d.copies.of(name).drop()
	}
	if err == nil && d.embedded != nil {
		if ierr := d.embedded.indexIDs(ctx, d.db.Name(), name); ierr != nil {
			return fmt.Errorf("after %s: %w", cmd[0].Key, ierr)
		}
	}
	return err
}
