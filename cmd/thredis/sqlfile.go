package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/thredis/thredis/atomicfile"
	"github.com/thredis/thredis/rdb"
	"github.com/thredis/thredis/server"
	"github.com/thredis/thredis/vfs"
)

// The export-sql and import-sql subcommands convert between a SQL database
// kept in a hash key of an RDB file and a standard SQLite file, offline.
// (Online, SQL.DUMP and SQL.RESTORE do the same through a running server.)

func exportSQLCmd() *cobra.Command {
	var rdbPath, key, out string
	var db int
	cmd := &cobra.Command{
		Use:   "export-sql --rdb FILE --key KEY -o OUT.sqlite",
		Short: "Write the SQL database stored at a key of an RDB file as a SQLite file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := readSQLKey(rdbPath, db, key)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteBytes(out, img); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d bytes from key %q of %s\n", out, len(img), key, rdbPath)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rdbPath, "rdb", "", "RDB file to read (e.g. dump.rdb, or an AOF's .base.rdb)")
	f.StringVar(&key, "key", "_sql:redis_db", "hash key holding the database")
	f.IntVar(&db, "db", 0, "database number of the key")
	f.StringVarP(&out, "output", "o", "", "SQLite file to write")
	cmd.MarkFlagRequired("rdb")
	cmd.MarkFlagRequired("output")
	return cmd
}

func importSQLCmd() *cobra.Command {
	var sqlitePath, key, out string
	var db int
	cmd := &cobra.Command{
		Use:   "import-sql --sqlite FILE --key KEY -o OUT.rdb",
		Short: "Write a SQLite file as an RDB file holding it at a key (load it as dump.rdb)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := os.ReadFile(sqlitePath)
			if err != nil {
				return err
			}
			ps, err := vfs.Pages(img, func(string, []byte) {})
			if err != nil {
				return fmt.Errorf("%s: %w", sqlitePath, err)
			}
			n := len(img) / ps
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			defer f.Close()
			w := rdb.NewWriter(f, rdb.WriterOptions{Compress: true, Checksum: true})
			aux := []rdb.Aux{{Key: "redis-ver", Value: server.Version}, {Key: "redis-bits", Value: strconv.Itoa(strconv.IntSize)},
				{Key: "ctime", Value: strconv.FormatInt(time.Now().Unix(), 10)}, {Key: "used-mem", Value: "0"}, {Key: "aof-base", Value: "0"}}
			if err := w.Header(aux); err != nil {
				return err
			}
			if err := w.SelectDB(db, 1, 0); err != nil {
				return err
			}
			pages := func(yield func(field, val string) bool) {
				for off := 0; off < len(img); off += ps {
					if !yield(strconv.Itoa(off), string(img[off:off+ps])) {
						return
					}
				}
			}
			if err := w.Hash(key, n, pages, -1); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: key %q (%d pages) from %s\n", out, key, n, sqlitePath)
			return f.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&sqlitePath, "sqlite", "", "SQLite file to read (not in WAL mode)")
	f.StringVar(&key, "key", "_sql:redis_db", "hash key to hold the database")
	f.IntVar(&db, "db", 0, "database number of the key")
	f.StringVarP(&out, "output", "o", "", "RDB file to write")
	cmd.MarkFlagRequired("sqlite")
	cmd.MarkFlagRequired("output")
	return cmd
}

// readSQLKey returns the database image stored at key in database db of
// the RDB file at path.
func readSQLKey(path string, db int, key string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := rdb.NewReader(f, rdb.ReaderOptions{VerifyChecksum: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no key %q in database %d", path, key, db)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if e.Kind != rdb.EntryKey || e.DB != db || e.Key != key {
			continue
		}
		if e.Type != rdb.TypeHash {
			return nil, fmt.Errorf("%s: key %q holds a %s, not a SQL database", path, key, e.Type)
		}
		img, err := vfs.Image(func(yield func(field, val string) bool) {
			for _, p := range e.Hash {
				if !yield(p.Field, p.Value) {
					return
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", path, key, err)
		}
		return img, nil
	}
}
