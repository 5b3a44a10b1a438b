package vfs

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/thredis/thredis/keyspace"
)

// ErrNotDatabase is returned by KeyStore.Load when the key holds a hash
// whose fields are not the pages of a database.
var ErrNotDatabase = errors.New("the key holds a hash that is not a SQL database")

// ErrUnlockedCommit is KeyStore.Commit's refusal of a commit the SQL layer
// did not run under the execution lock (see KeyStore.Writable).
var ErrUnlockedCommit = errors.New("vfs: commit outside the execution lock refused")

// KeyStore is the PageStore the server uses (DESIGN rules 4 and 5): the
// pages live in the hash at Key of DB, field = the page's byte offset in
// decimal, value = the raw page. Every method must be called with the
// server's execution lock held (the SQL layer holds it while a statement
// that may commit runs, and while it attaches or reloads a database).
//
// Page memory is shared three ways: the hash value, the VFS's version index
// and, until the command log has encoded it, the log entry. A KeyStore
// therefore copies pages when it loads them, so the buffers are owned by
// this database alone (the hash may have come from COPY, RENAME or a
// replica), and it lets the VFS recycle superseded pages (PageRecycler):
// once a commit replaces a page in the hash nothing else refers to it.
type KeyStore struct {
	// DB and Key locate the hash.
	DB  *keyspace.DB
	Key string
	// Propagate receives the commands that replay a committed batch
	// elsewhere (the AOF, replicas): HSET key off page … and, when the
	// transaction shrank the database, HDEL key off …. argv is only valid
	// until the caller's command-log entry is appended, unless CopyPages
	// is set.
	Propagate func(argv [][]byte)
	// Committed, when set, is called at the end of every Commit, after
	// Propagate: the SQL layer appends the batch to the command log
	// there, so the log has encoded the batch before anything can
	// recycle its pages or its argv (unless CopyPages).
	Committed func()
	// CopyPages makes the page values handed to Propagate copies. The SQL
	// layer sets it while several commits may precede the log append (a
	// MULTI/EXEC block): a later commit in the block may recycle an
	// earlier commit's pages before the block's entry is written.
	CopyPages bool
	// Stale is set when something other than this store changed the hash
	// (DEL, RENAME, FLUSHALL, ...) and the VFS has not reloaded it yet; a
	// commit then fails rather than apply a batch to content it did not
	// start from. Atomic: the SQL layer reads it without the lock to
	// decide whether a statement must first take the lock and reload.
	Stale atomic.Bool
	// External is set when the hash's pages were changed by genuine
	// SQLite commits made elsewhere (a replica applying its master's page
	// batches): the VFS catches up with Database.SyncExternal, keeping
	// its connections' caches, instead of a full reload. Like Stale, a
	// commit is refused until then.
	External atomic.Bool
	// Writable is set by the SQL layer while a statement that it runs
	// under the execution lock may commit. A commit without it is
	// refused (ErrUnlockedCommit): it would come from a statement the SQL
	// layer took for read-only, running without the lock, and must not
	// touch the keyspace. A safety net; it is atomic because such a
	// statement's goroutine reads it without the lock.
	Writable atomic.Bool
	// committing is set while Commit modifies the hash, so the SQL layer's
	// change watcher can tell its own commits from external changes.
	committing bool

	fields []string // decimal field names by page number
	key    []byte   // Key, converted once
	argv   [][]byte // reused HSET argv (see Commit)
}

// Committing reports whether the store itself is changing the hash (the
// key's watchers are being told about a SQL commit, not an external
// change).
func (s *KeyStore) Committing() bool { return s.committing }

// RecyclePages implements PageRecycler: pages superseded while a snapshot
// is being written may be what the snapshot reads, so they are left to the
// garbage collector then.
func (s *KeyStore) RecyclePages() bool { return !s.DB.SnapshotActive() }

// field returns the decimal field name of the page at off, cached.
func (s *KeyStore) field(off int64, pageSize int) string {
	pg := off / int64(pageSize)
	if pg < int64(len(s.fields)) && s.fields[pg] != "" {
		return s.fields[pg]
	}
	f := strconv.FormatInt(off, 10)
	if pg < 1<<20 { // cache the first 4 GiB worth of 4 KiB pages
		if pg >= int64(len(s.fields)) {
			s.fields = append(s.fields, make([]string, int(pg)+1-len(s.fields))...)
		}
		s.fields[pg] = f
	}
	return f
}

// Load implements PageStore: it reads every page of the hash, giving each
// a private copy that the hash then holds too.
func (s *KeyStore) Load(fn func(off int64, page []byte) error) error {
	h, err := s.DB.HashForWrite([]byte(s.Key), false) // no hit/miss stats
	if err != nil {
		return err
	}
	if h == nil {
		return nil
	}
	type pg struct {
		field string
		off   int64
		data  []byte
	}
	pages := make([]pg, 0, h.Len())
	h.Range(func(f, v string) bool {
		off, perr := strconv.ParseInt(f, 10, 64)
		if perr != nil || off < 0 || strconv.FormatInt(off, 10) != f {
			err = fmt.Errorf("%w (field %q is not a page offset)", ErrNotDatabase, truncate(f))
			return false
		}
		pages = append(pages, pg{f, off, []byte(v)})
		return true
	})
	if err != nil {
		return err
	}
	for _, p := range pages {
		// The copy replaces the value in place: same content, so this is
		// not a modification of the key.
		h.SetString(p.field, unsafe.String(unsafe.SliceData(p.data), len(p.data)))
		if err := fn(p.off, p.data); err != nil {
			if errors.Is(err, ErrNotDatabase) {
				return err
			}
			return fmt.Errorf("%w (%v)", ErrNotDatabase, err)
		}
	}
	return nil
}

// Diff implements Differ: it walks the hash and hands changed every page
// whose value is not the very memory known returns for its offset (the
// VFS's current page), as a private copy that the hash then holds too (as
// Load does).
func (s *KeyStore) Diff(pageSize int, known func(off int64) []byte, changed func(off int64, page []byte)) (pages, size int64, err error) {
	h, err := s.DB.HashForWrite([]byte(s.Key), false)
	if err != nil || h == nil {
		return 0, 0, err
	}
	type pg struct {
		field string
		off   int64
		data  []byte
	}
	var fresh []pg
	h.Range(func(f, v string) bool {
		off, perr := strconv.ParseInt(f, 10, 64)
		if perr != nil || off < 0 || strconv.FormatInt(off, 10) != f {
			err = fmt.Errorf("%w (field %q is not a page offset)", ErrNotDatabase, truncate(f))
			return false
		}
		pages++
		size = max(size, off+int64(pageSize))
		if k := known(off); len(k) == len(v) && len(v) > 0 && unsafe.SliceData(k) == unsafe.StringData(v) {
			return true
		}
		fresh = append(fresh, pg{f, off, []byte(v)})
		return true
	})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range fresh {
		h.SetString(p.field, unsafe.String(unsafe.SliceData(p.data), len(p.data)))
		changed(p.off, p.data)
	}
	return pages, size, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

var (
	argHSET = []byte("HSET")
	argHDEL = []byte("HDEL")
)

// Commit implements PageStore: the batch becomes the hash's new content
// and is handed to Propagate as HSET (and HDEL) commands.
func (s *KeyStore) Commit(b *Batch) error {
	if !s.Writable.Load() {
		return ErrUnlockedCommit
	}
	if s.Stale.Load() || s.External.Load() {
		return ErrStale
	}
	if s.key == nil {
		s.key = []byte(s.Key)
	}
	key := s.key
	h, err := s.DB.HashForWrite(key, true)
	if err != nil {
		return fmt.Errorf("committing to %q: %w", s.Key, err)
	}
	var hset, hdel [][]byte
	if len(b.Pages) > 0 {
		if s.CopyPages {
			hset = make([][]byte, 0, 2+2*len(b.Pages))
		} else {
			// The log encoded the previous commit's entry when it
			// ended (Committed), so its argv can be reused.
			hset = s.argv[:0]
		}
		hset = append(hset, argHSET, key)
	}
	var logCopy []byte
	if s.CopyPages {
		logCopy = make([]byte, 0, len(b.Pages)*b.PageSize)
	}
	for _, p := range b.Pages {
		f := s.field(p.Off, b.PageSize)
		h.SetString(f, unsafe.String(unsafe.SliceData(p.Data), len(p.Data)))
		data := p.Data
		if s.CopyPages {
			logCopy = append(logCopy, p.Data...)
			data = logCopy[len(logCopy)-len(p.Data):]
		}
		hset = append(hset, unsafe.Slice(unsafe.StringData(f), len(f)), data)
	}
	if len(b.Deleted) > 0 {
		hdel = make([][]byte, 0, 2+len(b.Deleted))
		hdel = append(hdel, argHDEL, key)
		for _, off := range b.Deleted {
			f := s.field(off, b.PageSize)
			h.Delete([]byte(f))
			hdel = append(hdel, unsafe.Slice(unsafe.StringData(f), len(f)))
		}
	}
	if !s.CopyPages {
		s.argv = hset
	}
	s.committing = true
	s.DB.Modified(key)
	if h.Len() == 0 {
		s.DB.DeleteIfEmpty(key)
	}
	s.committing = false
	if s.Propagate != nil {
		if hset != nil {
			s.Propagate(hset)
		}
		if hdel != nil {
			s.Propagate(hdel)
		}
	}
	if s.Committed != nil {
		s.Committed()
	}
	return nil
}
