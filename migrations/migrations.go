// Package migrations holds the database migrations, applied in order at
// start-up and by `microtask migrate`. Each file NNNN_name.json is a JSON
// array of database commands (MongoDB extended JSON). Commands must be safe to
// run twice: a crash after a command but before the version is recorded runs
// the migration again. Never edit an applied migration; add a new one.
//
// The numbers order the migrations; they need not be consecutive. The runner
// (docdb.DB.Migrate) applies every file whose version the database has not
// recorded, in the order of the numbers, whatever the gaps. There is no
// 0017 and there never was one (git log --all -- migrations/ has none):
// issue 13 named its backfill of the tasks' submitters 0018 while the
// branches of issue 12 were adding theirs in parallel, and those took 0015
// and 0016 only. Leave the gap: a new migration takes a number above the
// highest, because a database already at 0023 would run a new 0017 after
// 0023 while a fresh one would run it before 0018.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.json
var FS embed.FS
