package docdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"

	"go.mongodb.org/mongo-driver/v2/bson"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// fileStore keeps the embedded database's documents durably, by _id, in one
// SQLite file: a table of documents (collection, _id, BSON; the row's order
// is the natural order) and a table of index definitions. It answers no query: the in-memory copy
// (package mirror) does, and this file is read whole only when the database
// opens. Its one job is to make a batch of changes durable at once.
//
// The file is in WAL mode with synchronous FULL: a committed batch survives
// a killed process and a power cut.
type fileStore struct {
	db       *sql.DB
	path     string
	put, del *sql.Stmt // prepared once: every batch runs them
}

// fileExt is the extension of the embedded database's file.
const fileExt = ".db"

const fileSchema = `
-- A rowid table, not WITHOUT ROWID: documents of a few kilobytes (a task
-- and its submitters) are written three to five times faster so (measured),
-- and the rowid keeps the order of insertion, which a replacement keeps.
CREATE TABLE IF NOT EXISTS docs (
	coll TEXT NOT NULL,
	id   BLOB NOT NULL, -- the _id as its BSON type byte and value
	doc  BLOB NOT NULL,
	UNIQUE (coll, id)
);
CREATE TABLE IF NOT EXISTS indexes (
	coll TEXT NOT NULL,
	name TEXT NOT NULL,
	spec BLOB NOT NULL, -- {key, name, unique} as createIndexes takes it
	PRIMARY KEY (coll, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS collections (
	coll TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;
`

func openFileStore(ctx context.Context, path string) (*fileStore, error) {
	dsn := "file:" + filepath.ToSlash(path) +
		"?_pragma=journal_mode(wal)&_pragma=synchronous(full)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: every statement is this process's, in order, and
	// the batches are its only writes.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, fileSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &fileStore{db: db, path: path}
	if s.put, err = db.PrepareContext(ctx,
		`INSERT INTO docs (coll, id, doc) VALUES (?, ?, ?) ON CONFLICT (coll, id) DO UPDATE SET doc = excluded.doc`); err == nil {
		s.del, err = db.PrepareContext(ctx, `DELETE FROM docs WHERE coll = ? AND id = ?`)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func (s *fileStore) close() error {
	return errors.Join(s.put.Close(), s.del.Close(), s.db.Close())
}

// idBytes is the key of a document in the file: its _id's BSON type and
// value, so that ids of different types never meet.
func idBytes(id bson.RawValue) []byte {
	return append([]byte{byte(id.Type)}, id.Value...)
}

// storedCollection is what the file holds of one collection.
type storedCollection struct {
	docs    []bson.Raw // in natural order
	indexes []indexSpec
}

// load reads the whole file.
func (s *fileStore) load(ctx context.Context) (map[string]*storedCollection, error) {
	out := map[string]*storedCollection{}
	of := func(name string) *storedCollection {
		if out[name] == nil {
			out[name] = &storedCollection{}
		}
		return out[name]
	}
	rows, err := s.db.QueryContext(ctx, `SELECT coll FROM collections`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		of(name)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT coll, spec FROM indexes ORDER BY coll, name`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name string
		var raw []byte
		if err := rows.Scan(&name, &raw); err != nil {
			rows.Close()
			return nil, err
		}
		spec, err := parseIndexSpec(bson.Raw(raw))
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("index of %s: %w", name, err)
		}
		c := of(name)
		c.indexes = append(c.indexes, spec)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT coll, doc FROM docs ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// The documents are copied into shared chunks rather than one
	// allocation each: the copy then weighs what the BSON does.
	var chunk []byte
	for rows.Next() {
		var name string
		var raw sql.RawBytes
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, err
		}
		n := len(raw)
		if cap(chunk)-len(chunk) < n {
			chunk = make([]byte, 0, max(64<<10, n))
		}
		start := len(chunk)
		chunk = append(chunk, raw...)
		c := of(name)
		c.docs = append(c.docs, bson.Raw(chunk[start:len(chunk):len(chunk)]))
	}
	return out, rows.Err()
}

// fileOp is one change of a batch: a document stored (doc set) or deleted,
// or a collection's first write (create).
type fileOp struct {
	coll   string
	create bool
	id     []byte
	doc    bson.Raw
}

// apply makes the changes of one batch durable, in one transaction.
func (s *fileStore) apply(ctx context.Context, ops []fileOp) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	put, del := tx.StmtContext(ctx, s.put), tx.StmtContext(ctx, s.del)
	for _, op := range ops {
		if op.create {
			st := createCollection(op.coll)
			if _, err = tx.ExecContext(ctx, st.sql, st.args...); err != nil {
				return err
			}
			continue
		}
		if op.doc == nil {
			_, err = del.ExecContext(ctx, op.coll, op.id)
		} else {
			_, err = put.ExecContext(ctx, op.coll, op.id, []byte(op.doc))
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// exec runs statements that change what the file holds of collections
// (their creation, indexes, renames, drops) in one transaction.
func (s *fileStore) exec(ctx context.Context, stmts ...stmt) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err = tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

type stmt struct {
	sql  string
	args []any
}

func createCollection(name string) stmt {
	return stmt{`INSERT INTO collections (coll) VALUES (?) ON CONFLICT DO NOTHING`, []any{name}}
}

// hasDocument reports whether the file holds the document: readiness's
// cheap read of the disk.
func (s *fileStore) hasDocument(ctx context.Context, coll string, id bson.RawValue) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM docs WHERE coll = ? AND id = ?`, coll, idBytes(id)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
