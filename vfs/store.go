package vfs

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// PageStore holds the committed state of one SQLite database as pages keyed
// by byte offset (DESIGN rule 5: offset 0, 4096, … → raw page bytes; the
// database image is the concatenation of the pages in offset order).
//
// The VFS reads a store only when a database is attached and after an
// external change (Database.Reload); between those it serves reads from its
// own multi-version index, which shares the page slices with the store.
// Writes reach the store only through Commit, once per SQLite transaction.
//
// Page slices cross the interface by ownership transfer and are immutable on
// both sides: a page handed to Commit or returned by Load is never modified
// afterwards (a newer version replaces it). That lets the keyspace hash and
// the VFS share page memory, and lets pinned readers keep old versions alive
// without copying.
//
// The keyspace-backed implementation keeps its pages in a hash key and is
// called with the server's execution lock held (or takes it); the VFS never
// calls a store method concurrently with another method on the same store.
type PageStore interface {
	// Load calls fn for every stored page, in any order. The page slices
	// must stay valid and unchanged for as long as the VFS may read them,
	// which is until a later Commit or external change replaces them.
	Load(fn func(off int64, page []byte) error) error

	// Commit applies one transaction's page writes and deletions as a
	// single atomic change: either all of b is applied or none of it, and
	// in the latter case Commit returns an error (the SQLite transaction
	// then fails). The store takes ownership of the page slices in b.Pages;
	// it must not retain b itself or b's slices of pages/offsets after
	// returning, because the VFS reuses them.
	Commit(b *Batch) error
}

// PageRecycler is an optional PageStore interface. A store whose
// RecyclePages reports true promises that it keeps no reference to a page
// once a Commit has replaced or deleted it (nor to pages of content dropped
// before a Reload). The VFS then reuses the memory of superseded page
// versions as soon as no reader can see them, instead of allocating a new
// buffer for every page of every commit. A store whose old values may still
// be referenced elsewhere (a reply in flight, a snapshot being written, a
// replication buffer) must not implement it, or must report false. The VFS
// asks each time it prunes, so the answer may change (the keyspace store
// says no while a snapshot is being written).
type PageRecycler interface {
	RecyclePages() bool
}

// Page is one page of a Batch.
type Page struct {
	// Off is the page's byte offset, a multiple of the page size.
	Off int64
	// Data is the full page, PageSize bytes. Immutable.
	Data []byte
}

// Batch is one committed SQLite transaction, as applied to a PageStore.
type Batch struct {
	// PageSize is the database's page size.
	PageSize int
	// Pages are the pages written by the transaction, sorted by offset.
	Pages []Page
	// Deleted are the offsets of pages removed because the transaction
	// shrank the database (VACUUM, auto-vacuum, DROP with incremental
	// vacuum), sorted.
	Deleted []int64
	// Size is the database size in bytes after the batch: every offset
	// below it holds a page, none at or above it does.
	Size int64
}

// MemStore is an in-memory PageStore for tests and benchmarks. It is safe
// for concurrent use and can be told to fail commits.
type MemStore struct {
	mu      sync.Mutex
	pages   map[int64][]byte
	commits int
	failErr error
}

// RecyclePages implements PageRecycler: a MemStore forgets replaced pages.
// Pages obtained from Get, Load or Image are therefore only valid until the
// next commit.
func (m *MemStore) RecyclePages() bool { return true }

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{pages: make(map[int64][]byte)} }

// Load implements PageStore.
func (m *MemStore) Load(fn func(off int64, page []byte) error) error {
	m.mu.Lock()
	pages := maps.Clone(m.pages)
	m.mu.Unlock()
	for off, p := range pages {
		if err := fn(off, p); err != nil {
			return err
		}
	}
	return nil
}

// Commit implements PageStore.
func (m *MemStore) Commit(b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failErr != nil {
		return m.failErr
	}
	for _, p := range b.Pages {
		if p.Off%int64(b.PageSize) != 0 || len(p.Data) != b.PageSize {
			return fmt.Errorf("memstore: bad page at offset %d (%d bytes)", p.Off, len(p.Data))
		}
	}
	for _, p := range b.Pages {
		m.pages[p.Off] = p.Data
	}
	for _, off := range b.Deleted {
		delete(m.pages, off)
	}
	m.commits++
	return nil
}

// FailCommits makes every later Commit fail with err (nil restores
// success), to test that a failed store commit fails the SQL transaction.
func (m *MemStore) FailCommits(err error) {
	m.mu.Lock()
	m.failErr = err
	m.mu.Unlock()
}

// Commits returns how many batches were applied.
func (m *MemStore) Commits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits
}

// Len returns the number of stored pages.
func (m *MemStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pages)
}

// Get returns the page at off (nil if absent). The slice must not be
// modified.
func (m *MemStore) Get(off int64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pages[off]
}

// Image returns the database image: the pages concatenated in offset order,
// with zero bytes for missing pages. It is what a `.sqlite` export would
// contain.
func (m *MemStore) Image() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	offs := slices.Sorted(maps.Keys(m.pages))
	if len(offs) == 0 {
		return nil
	}
	last := offs[len(offs)-1]
	img := make([]byte, last+int64(len(m.pages[last])))
	for _, off := range offs {
		copy(img[off:], m.pages[off])
	}
	return img
}

// Replace swaps the whole content for pages (offset → page), as DEL,
// RESTORE or a full resync do to a keyspace-backed store. The caller then
// calls Database.Reload. The store takes ownership of the slices.
func (m *MemStore) Replace(pages map[int64][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages = make(map[int64][]byte, len(pages))
	maps.Copy(m.pages, pages)
}
