// Package migrations holds the database migrations, applied in order at
// start-up and by `microtask migrate`. Each file NNNN_name.json is a JSON
// array of database commands (MongoDB extended JSON). Commands must be safe to
// run twice: a crash after a command but before the version is recorded runs
// the migration again. Never edit an applied migration; add a new one.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.json
var FS embed.FS
