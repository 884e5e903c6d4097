// Package idgen makes the string IDs of new records: 24 hex characters, a
// 4-byte timestamp and 8 random bytes, the shape of a MongoDB ObjectID, so
// they sort roughly by creation time and look familiar in the database.
package idgen

import (
	"crypto/rand"
	"crypto/sha256"
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

// Derive returns the ID that parts always name, in the same shape as New's.
// A record created on behalf of a client's idempotency key takes its ID
// from the key, so that running the request again after a crash finds the
// record the first run made instead of making a second one.
func Derive(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0}) // "ab","c" and "a","bc" name different records
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
