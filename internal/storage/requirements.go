package storage

import (
	"maps"
	"slices"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/task"
)

// requirementsDoc is task.Requirements as a document keeps them, inline
// in a task's and in a job's: the same flat top-level fields in both, so
// that admits, the one filter of who may take a task, also says who may
// propose for a job.
type requirementsDoc struct {
	// 0 for none.
	MinLevel  int64   `bson:"min_level"`
	MinRating float64 `bson:"min_rating"`
	// Countries are the countries a worker's profile must be in ([] for
	// any), and the qualification requirements are kept one per slot
	// (rq1 to rq5, in order; "" an empty slot), as top-level scalars:
	// the copy in memory filters on top-level fields only. A slot holds
	// the type, the comparator, and the range of scores it admits
	// (task.QualificationRequirement.Range). Quals lists the types
	// required, for the check that a type no open task or job requires
	// may go.
	Countries []string `bson:"countries"`
	Quals     []string `bson:"quals"`
	Rq1       string   `bson:"rq1"`
	Rq1Cmp    string   `bson:"rq1_cmp"`
	Rq1Lo     int64    `bson:"rq1_lo"`
	Rq1Hi     int64    `bson:"rq1_hi"`
	Rq2       string   `bson:"rq2"`
	Rq2Cmp    string   `bson:"rq2_cmp"`
	Rq2Lo     int64    `bson:"rq2_lo"`
	Rq2Hi     int64    `bson:"rq2_hi"`
	Rq3       string   `bson:"rq3"`
	Rq3Cmp    string   `bson:"rq3_cmp"`
	Rq3Lo     int64    `bson:"rq3_lo"`
	Rq3Hi     int64    `bson:"rq3_hi"`
	Rq4       string   `bson:"rq4"`
	Rq4Cmp    string   `bson:"rq4_cmp"`
	Rq4Lo     int64    `bson:"rq4_lo"`
	Rq4Hi     int64    `bson:"rq4_hi"`
	Rq5       string   `bson:"rq5"`
	Rq5Cmp    string   `bson:"rq5_cmp"`
	Rq5Lo     int64    `bson:"rq5_lo"`
	Rq5Hi     int64    `bson:"rq5_hi"`
}

// requirementsToDoc is r as stored.
func requirementsToDoc(r task.Requirements) requirementsDoc {
	d := requirementsDoc{MinLevel: int64(r.MinLevel), MinRating: r.MinRating}
	d.setQualifications(r)
	return d
}

// requirements reads the requirements back: nil lists where they ask
// nothing.
func (d *requirementsDoc) requirements() task.Requirements {
	return task.Requirements{MinLevel: int(d.MinLevel), MinRating: d.MinRating, Countries: noneIfEmpty(d.Countries),
		Qualifications: d.qualifications()}
}

// noneIfEmpty is nil for an empty list: requirements read back as nil
// when they ask nothing.
func noneIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// rqSlot is one qualification requirement as a document keeps it.
type rqSlot struct {
	id, cmp *string
	lo, hi  *int64
}

// slots are the document's qualification slots, in order.
func (d *requirementsDoc) slots() [task.MaxQualificationRequirements]rqSlot {
	return [...]rqSlot{
		{&d.Rq1, &d.Rq1Cmp, &d.Rq1Lo, &d.Rq1Hi}, {&d.Rq2, &d.Rq2Cmp, &d.Rq2Lo, &d.Rq2Hi}, {&d.Rq3, &d.Rq3Cmp, &d.Rq3Lo, &d.Rq3Hi},
		{&d.Rq4, &d.Rq4Cmp, &d.Rq4Lo, &d.Rq4Hi}, {&d.Rq5, &d.Rq5Cmp, &d.Rq5Lo, &d.Rq5Hi},
	}
}

// setQualifications fills the slots, the types required and the
// countries from r.
func (d *requirementsDoc) setQualifications(r task.Requirements) {
	d.Countries, d.Quals = nonNil(r.Countries), nonNil(r.QualificationIDs())
	for i, sl := range d.slots() {
		*sl.id, *sl.cmp, *sl.lo, *sl.hi = "", "", 0, 0
		if i < len(r.Qualifications) {
			q := r.Qualifications[i]
			lo, hi := q.Range()
			*sl.id, *sl.cmp, *sl.lo, *sl.hi = q.QualificationID, string(q.Comparator), int64(lo), int64(hi)
		}
	}
}

// qualifications reads the slots back.
func (d *requirementsDoc) qualifications() []task.QualificationRequirement {
	var out []task.QualificationRequirement // nil for none, as Countries
	for _, sl := range d.slots() {
		if *sl.id == "" {
			continue
		}
		q := task.QualificationRequirement{QualificationID: *sl.id, Comparator: task.Comparator(*sl.cmp)}
		var v int64
		switch q.Comparator {
		case task.CompareGTE, task.CompareEQ:
			v = *sl.lo
		case task.CompareLTE:
			v = *sl.hi
		default:
			out = append(out, q)
			continue
		}
		value := int(v)
		q.Value = &value
		out = append(out, q)
	}
	return out
}

// requirementFields are the fields of the document that keep r's
// countries and qualifications, for an update.
func requirementFields(r task.Requirements) bson.D {
	var d requirementsDoc
	d.setQualifications(r)
	set := bson.D{{Key: "countries", Value: d.Countries}, {Key: "quals", Value: d.Quals}}
	for i, sl := range d.slots() {
		n := strconv.Itoa(i + 1)
		set = append(set, bson.E{Key: "rq" + n, Value: *sl.id}, bson.E{Key: "rq" + n + "_cmp", Value: *sl.cmp},
			bson.E{Key: "rq" + n + "_lo", Value: *sl.lo}, bson.E{Key: "rq" + n + "_hi", Value: *sl.hi})
	}
	return set
}

// requirementEdits are the fields to $set for an edit of requirements
// that changes those it has (a nil one stays): of a task's or a job's.
func requirementEdits(minLevel *int, minRating *float64, countries *[]string, quals *[]task.QualificationRequirement) bson.D {
	var set bson.D
	if minLevel != nil {
		set = append(set, bson.E{Key: "min_level", Value: int64(*minLevel)})
	}
	if minRating != nil {
		set = append(set, bson.E{Key: "min_rating", Value: *minRating})
	}
	if countries == nil && quals == nil {
		return set
	}
	var r task.Requirements
	if countries != nil {
		r.Countries = *countries
	}
	if quals != nil {
		r.Qualifications = *quals
	}
	for _, f := range requirementFields(r) { // only those of what the edit sets
		if f.Key == "countries" && countries != nil || f.Key != "countries" && quals != nil {
			set = append(set, f)
		}
	}
	return set
}

// admits is task.Requirements.Admits as a filter: the tasks (or jobs)
// whose requirements the candidate meets. TestRequirementsAreOneRule runs
// every combination through both, and through reservations, submissions
// and proposals.
func admits(c task.Candidate) bson.D {
	countries := bson.A{bson.D{{Key: "countries", Value: bson.D{{Key: "$size", Value: 0}}}}}
	if c.Country != "" {
		countries = append(countries, bson.D{{Key: "countries", Value: c.Country}})
	}
	all := bson.A{bson.D{{Key: "$or", Value: countries}}}
	// The worker's scores grouped by value, so that a slot's clause grows
	// with the distinct scores (at most 101), not with every grant.
	held := bson.A{}
	byScore := map[int]bson.A{}
	for id, score := range c.Scores {
		held = append(held, id)
		byScore[score] = append(byScore[score], id)
	}
	scores := slices.Sorted(maps.Keys(byScore))
	for i := range task.MaxQualificationRequirements {
		n := "rq" + strconv.Itoa(i+1)
		slot := bson.A{
			bson.D{{Key: n, Value: ""}},
			bson.D{{Key: n + "_cmp", Value: string(task.CompareNotExists)}, {Key: n, Value: bson.D{{Key: "$nin", Value: held}}}},
		}
		for _, score := range scores {
			slot = append(slot, bson.D{
				{Key: n + "_cmp", Value: bson.D{{Key: "$ne", Value: string(task.CompareNotExists)}}},
				{Key: n, Value: bson.D{{Key: "$in", Value: byScore[score]}}},
				{Key: n + "_lo", Value: bson.D{{Key: "$lte", Value: int64(score)}}},
				{Key: n + "_hi", Value: bson.D{{Key: "$gte", Value: int64(score)}}},
			})
		}
		all = append(all, bson.D{{Key: "$or", Value: slot}})
	}
	return bson.D{
		{Key: "min_level", Value: bson.D{{Key: "$lte", Value: int64(c.Level)}}},
		{Key: "min_rating", Value: bson.D{{Key: "$lte", Value: c.Rating}}},
		{Key: "$and", Value: all},
	}
}
