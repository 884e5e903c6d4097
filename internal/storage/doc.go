// Package storage keeps Microtask's documents: one store per capability,
// each implementing the Store interface its domain package declares, on the
// document database of package docdb. Stores turn domain values into
// documents and back, build the filters and updates, and translate docdb's
// errors into the domain's (a missing document into ErrNotFound, a duplicate
// key into the domain's conflict). migrate_steps.go holds the migrations'
// steps written in Go; the migration files are in /migrations.
package storage
