package docdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Migrations are JSON files named NNNN_name.json, each an array of database
// commands in MongoDB extended JSON (the format golang-migrate's mongodb
// driver runs). Each applied version is recorded in schema_migrations as
// {_id: version, name, applied_at}.
//
// We keep this runner rather than use golang-migrate because its mongodb
// driver fights the design: it ignores contexts (context.TODO throughout, so
// shutdown cannot interrupt it), keeps only the last version by dropping and
// re-inserting its record, needs a second connection on driver v1, and its
// lock document never expires, so a crash during a migration would block
// every later start on FerretDB, which has no TTL indexes. This runner's lock
// is a lease that a later start takes over.
//
// A crash between a migration's commands and its record makes the next start
// run that migration again, so every command must be safe to repeat
// (createIndexes with the same definition is).
//
// A change the command language cannot express (reshaping documents) is a
// step written in Go, named in a migration file as {"microtaskStep": name}
// so that the migrations directory stays the one ordered list; see Step.

const migrationsCollection = "schema_migrations"

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.json$`)

// Migration is one migration file.
type Migration struct {
	Version int
	Name    string
	file    string
}

// Step is a migration step written in Go, for a change the command
// language cannot express (reshaping documents); a migration file names it
// as {"microtaskStep": name}. Like every command, it must be safe to
// repeat.
type Step func(context.Context) error

// Migrate applies, in order, every migration in fsys that the database has
// not recorded, and returns those it applied. steps are the Go steps the
// files may name.
func (d *DB) Migrate(ctx context.Context, fsys fs.FS, steps map[string]Step, log *slog.Logger) ([]Migration, error) {
	all, err := readMigrations(fsys)
	if err != nil {
		return nil, err
	}
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	c := d.Collection(migrationsCollection)
	done := map[int]bool{}
	err = Each(ctx, c, bson.D{}, Query{}, func(r bson.M) error {
		switch v := r["_id"].(type) {
		case int32:
			done[int(v)] = true
		case int64:
			done[int(v)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	var applied []Migration
	for _, m := range all {
		if done[m.Version] {
			continue
		}
		if err := d.runMigration(ctx, fsys, m, steps); err != nil {
			return applied, err
		}
		rec := bson.D{{Key: "_id", Value: m.Version}, {Key: "name", Value: m.Name}, {Key: "applied_at", Value: time.Now().UTC()}}
		if err := c.InsertOne(ctx, rec); err != nil && !IsDuplicate(err) {
			return applied, fmt.Errorf("record migration %04d: %w", m.Version, err)
		}
		log.InfoContext(ctx, "migration applied", "version", m.Version, "name", m.Name)
		applied = append(applied, m)
	}
	return applied, nil
}

func readMigrations(fsys fs.FS) ([]Migration, error) {
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	var all []Migration
	for _, f := range files {
		m := migrationName.FindStringSubmatch(f)
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must look like 0001_some_name.json", f)
		}
		v, _ := strconv.Atoi(m[1])
		all = append(all, Migration{Version: v, Name: m[2], file: f})
	}
	slices.SortFunc(all, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(all); i++ {
		if all[i].Version == all[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", all[i-1].file, all[i].file, all[i].Version)
		}
	}
	return all, nil
}

func (d *DB) runMigration(ctx context.Context, fsys fs.FS, m Migration, steps map[string]Step) error {
	data, err := fs.ReadFile(fsys, m.file)
	if err != nil {
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("migration %s: want a JSON array of commands: %w", m.file, err)
	}
	for i, r := range raw {
		var cmd bson.D
		if err := bson.UnmarshalExtJSON(r, false, &cmd); err != nil {
			return fmt.Errorf("migration %s command %d: %w", m.file, i+1, err)
		}
		if len(cmd) == 1 && cmd[0].Key == "microtaskStep" {
			name, _ := cmd[0].Value.(string)
			step := steps[name]
			if step == nil {
				return fmt.Errorf("migration %s command %d: no step %q", m.file, i+1, name)
			}
			if err := step(ctx); err != nil {
				return fmt.Errorf("migration %s step %s: %w", m.file, name, err)
			}
			continue
		}
		if err := d.runCommand(ctx, cmd); err != nil {
			return fmt.Errorf("migration %s command %d: %w", m.file, i+1, err)
		}
	}
	return nil
}

// migrationLease is how long a migration lock lasts before another start may
// take it over, in case its holder died.
const migrationLease = time.Minute

// lockMigrations takes the lease document {_id: "lock"} in
// schema_migrations, waiting while another instance holds a live one.
func (d *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	c := d.Collection(migrationsCollection)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	owner := hex.EncodeToString(b)
	for {
		now := time.Now()
		ok, err := AcquireLease(ctx, c, "lock", owner, now, now.Add(migrationLease))
		if err != nil {
			return nil, fmt.Errorf("lock migrations: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock migrations: another instance holds the lock: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return func() {
		// A failed release is harmless: the lease expires and the next start
		// takes it over.
		_, _ = c.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: "lock"}, {Key: "owner", Value: owner}})
	}, nil
}

// RenameCollection renames a collection unless the new name exists or the
// old one does not.
func (d *DB) RenameCollection(ctx context.Context, from, to string) error {
	if d.mem != nil {
		return d.mem.rename(ctx, from, to)
	}
	names, err := d.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: bson.A{from, to}}}}})
	if err != nil {
		return err
	}
	if !slices.Contains(names, from) || slices.Contains(names, to) {
		return nil // done before, or nothing to rename
	}
	leave, err := d.Collection(from).lock(ctx, nil)
	if err != nil {
		return err
	}
	defer leave()
	err = d.client.Database("admin").RunCommand(ctx, bson.D{
		{Key: "renameCollection", Value: d.db.Name() + "." + from}, {Key: "to", Value: d.db.Name() + "." + to},
	}).Err()
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	return nil
}

// DropCollection drops a collection.
func (d *DB) DropCollection(ctx context.Context, name string) error {
	if d.mem != nil {
		return d.mem.drop(ctx, name)
	}
	leave, err := d.Collection(name).lock(ctx, nil)
	if err != nil {
		return err
	}
	defer leave()
	if d.embedded != nil {
		d.embedded.indexed.Delete(d.db.Name() + "\x00" + name)
	}
	if err := d.db.Collection(name).Drop(ctx); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return nil
}

// CollectionNames lists the database's collections.
func (d *DB) CollectionNames(ctx context.Context) ([]string, error) {
	if d.mem != nil {
		return d.mem.names(), nil
	}
	return d.db.ListCollectionNames(ctx, bson.D{})
}
