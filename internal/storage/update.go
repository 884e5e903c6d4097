package storage

import "go.mongodb.org/mongo-driver/v2/bson"

// newestFirst is the order of most lists; _id breaks ties, so that pages
// neither repeat nor skip items created in the same millisecond.
var newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}

// field is one field of a partial update: nil leaves it alone.
type field struct {
	name  string
	value *string
}

// setFields returns the $set document of the fields whose value is not nil.
func setFields(fields ...field) bson.D {
	var set bson.D
	for _, f := range fields {
		if f.value != nil {
			set = append(set, bson.E{Key: f.name, Value: *f.value})
		}
	}
	return set
}
