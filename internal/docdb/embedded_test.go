package docdb

import (
	"context"
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"microtask/internal/platform/logging"
)

// queryPlans returns SQLite's plan of the statements FerretDB runs by _id
// (find, update, delete) for every collection table of database.
func queryPlans(t *testing.T, e *Embedded, database string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, database+".sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			t.Fatal(err)
		}
		tables[name] = table
	}
	rows.Close()
	plans := map[string][]string{}
	for name, table := range tables {
		for _, stmt := range []string{
			`SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`,
			`UPDATE %q SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`,
			`DELETE FROM %q WHERE _ferretdb_sjson->'$._id' IN (?)`,
		} {
			q := "EXPLAIN QUERY PLAN " + strings.Replace(stmt, "%q", `"`+table+`"`, 1)
			rows, err := db.Query(q, `"x"`, `"x"`)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plans[name] = append(plans[name], detail)
			}
			rows.Close()
		}
	}
	return plans
}

// TestEmbeddedTablesHaveIDIndex reads SQLite's query plans: FerretDB's
// lookups, updates and deletes by _id must use an index on every table,
// including one created after start-up, rather than scan it.
func TestEmbeddedTablesHaveIDIndex(t *testing.T) {
	db := newServerDB(t) // migrated: the collections of the migrations exist
	ctx := context.Background()
	if err := db.Collection("created_later").InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	plans := queryPlans(t, testServer.emb, db.Name())
	if _, ok := plans["created_later"]; !ok || len(plans) < 3 {
		t.Fatalf("tables = %v; want every collection, created_later among them", plans)
	}
	for name, steps := range plans {
		for _, s := range steps {
			if !strings.Contains(s, "USING INDEX") || !strings.Contains(s, IDIndexName) {
				t.Errorf("%s: plan %q does not use the _id index", name, s)
			}
		}
	}

	// Without the index, FerretDB's own _id index does not serve these
	// statements: the test sees the difference.
	sqlDB, err := sql.Open("sqlite", "file:"+filepath.Join(testServer.emb.dir, db.Name()+".sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	var table string
	if err := sqlDB.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = 'created_later'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.Exec(`DROP INDEX "` + table + "_" + IDIndexName + `"`); err != nil {
		t.Fatal(err)
	}
	for _, s := range queryPlans(t, testServer.emb, db.Name())["created_later"] {
		if !strings.HasPrefix(s, "SCAN") {
			t.Errorf("without the index: plan %q, want SCAN", s)
		}
	}
}

// TestEmbeddedListensOnAPrivateSocket: the embedded server has no TCP port,
// its socket is the owner's only, and a second server on the same directory
// is refused.
func TestEmbeddedListensOnAPrivateSocket(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if !strings.HasPrefix(e.URI(), "mongodb://%2F") || !strings.HasSuffix(e.Socket(), SocketName) {
		t.Errorf("URI() = %q, Socket() = %q; want a Unix socket", e.URI(), e.Socket())
	}
	for path, want := range map[string]os.FileMode{e.Socket(): 0o600, filepath.Dir(e.Socket()): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	c, err := net.Dial("unix", e.Socket())
	if err != nil {
		t.Fatalf("dial the socket: %v", err)
	}
	c.Close()
	if _, err := StartEmbedded(dir, logging.Discard()); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second StartEmbedded() on the same dir: error %v, want a refusal", err)
	}
}

// TestEmbeddedRestartsAfterAKill: a socket file left by a killed process is
// not mistaken for a running server.
func TestEmbeddedRestartsAfterAKill(t *testing.T) {
	dir := t.TempDir()
	stale, err := net.Listen("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays, nobody listens: as after kill -9
	e, err := StartEmbedded(dir, logging.Discard())
	if err != nil {
		t.Fatalf("StartEmbedded() over a stale socket: %v", err)
	}
	db, err := e.Connect(context.Background(), "x", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(context.Background()); err != nil {
		t.Error(err)
	}
	_ = db.Close(context.Background())
	e.Stop()
}
