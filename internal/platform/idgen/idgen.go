// Package idgen makes the string IDs of new records: 24 hex characters, a
// 4-byte timestamp and 8 random bytes, the shape of a MongoDB ObjectID, so
// they sort roughly by creation time and look familiar in the database.
package idgen

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// New returns a new ID.
func New() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	_, _ = rand.Read(b[4:])
	return hex.EncodeToString(b[:])
}
