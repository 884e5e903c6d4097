package docdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ferretSuffix is what a converted FerretDB file is renamed with: kept, not
// deleted, so that going back to an older version stays possible.
const ferretSuffix = ".ferretdb-v1"

// convertFerretDB converts the database of dir that versions before the
// embedded store kept with FerretDB (dir/<database>.sqlite) into the
// embedded store's file, once: it starts FerretDB on dir, reads every
// collection (its indexes and documents, in natural order) through the
// driver, writes them to a new file in one transaction, puts the file in
// place, and renames FerretDB's files with ferretSuffix. A conversion
// stopped midway leaves only a temporary file, which the next start
// replaces.
func convertFerretDB(ctx context.Context, dir, database string, log *slog.Logger) error {
	target := filepath.Join(dir, database+fileExt)
	old := filepath.Join(dir, database+".sqlite")
	if _, err := os.Stat(target); err == nil {
		return nil
	}
	if _, err := os.Stat(old); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	start := time.Now()
	log.InfoContext(ctx, "converting the embedded database from FerretDB", "from", old, "to", target)
	tmp := target + ".converting"
	if err := removeFile(tmp); err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	emb, err := StartEmbedded(dir, quiet)
	if err != nil {
		return fmt.Errorf("convert %s: %w", old, err)
	}
	defer emb.Stop()
	client, err := mongo.Connect(options.Client().ApplyURI(emb.URI()))
	if err != nil {
		return fmt.Errorf("convert %s: %w", old, err)
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	src := client.Database(database)
	file, err := openFileStore(ctx, tmp)
	if err != nil {
		return err
	}
	docs, err := copyFerretDB(ctx, src, file)
	if cerr := file.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("convert %s: %w", old, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(old+suffix, old+suffix+ferretSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	log.InfoContext(ctx, "embedded database converted", "documents", docs, "took", time.Since(start).Round(time.Millisecond),
		"kept", old+ferretSuffix)
	return nil
}

// copyFerretDB writes every collection of src into file, in one
// transaction, and returns how many documents it wrote.
func copyFerretDB(ctx context.Context, src *mongo.Database, file *fileStore) (int, error) {
	names, err := src.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return 0, err
	}
	var stmts []stmt
	var ops []fileOp
	for _, name := range names {
		stmts = append(stmts, createCollection(name))
		cur, err := src.Collection(name).Indexes().List(ctx)
		if err != nil {
			return 0, err
		}
		for cur.Next(ctx) {
			spec, err := parseIndexSpec(cur.Current)
			if err != nil || spec.name == "_id_" {
				continue // the _id index is implied
			}
			clean, err := bson.Marshal(bson.D{{Key: "key", Value: cur.Current.Lookup("key")}, {Key: "name", Value: spec.name},
				{Key: "unique", Value: spec.unique}})
			if err != nil {
				cur.Close(ctx)
				return 0, err
			}
			stmts = append(stmts, stmt{`INSERT INTO indexes (coll, name, spec) VALUES (?, ?, ?)`, []any{name, spec.name, clean}})
		}
		if err := cur.Close(ctx); err != nil {
			return 0, err
		}
		cur, err = src.Collection(name).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
		if err != nil {
			return 0, err
		}
		for cur.Next(ctx) {
			doc := append(bson.Raw(nil), cur.Current...)
			ops = append(ops, fileOp{coll: name, id: idBytes(doc.Lookup("_id")), doc: doc})
		}
		if err := cur.Close(ctx); err != nil {
			return 0, err
		}
	}
	if err := file.exec(ctx, stmts...); err != nil {
		return 0, err
	}
	return len(ops), file.apply(ctx, ops)
}
