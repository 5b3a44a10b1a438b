package vfs

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// DefaultPageSize is the page size of a database attached without one.
const DefaultPageSize = 4096

// DefaultBusyTimeout is how long a writer waits for the writer lock when
// Options.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// Options configure one attached database.
type Options struct {
	// PageSize is the SQLite page size, a power of two from 512 to 65536.
	// Zero means DefaultPageSize. A store that already holds pages must
	// hold pages of this size.
	PageSize int
	// BusyTimeout bounds how long a connection waits for the database's
	// writer lock before its statement fails with SQLITE_BUSY ("database
	// is locked"). Zero means DefaultBusyTimeout; negative means no wait.
	BusyTimeout time.Duration
	// WaitHook, when set, is called instead of blocking whenever a
	// connection would wait for the writer lock. It must either call wait
	// (which blocks up to the busy deadline and reports whether the lock
	// was taken) and return its result, or return false at once to fail
	// the attempt with SQLITE_BUSY. The SQL layer uses it to give up the
	// server's execution lock while a writer waits, and to refuse to wait
	// at all inside MULTI/EXEC, where the execution lock cannot be let go.
	WaitHook func(wait func() bool) bool
}

// ErrStale is the LastCommitError of a commit refused because an external
// change (Reload, ApplyExternal) replaced the content its transaction read.
var ErrStale = errors.New("vfs: database content changed during the transaction")

// pageNode is one version of one page. A page's versions form a chain,
// newest first; a reader pinned at sequence s uses the first node with
// seq <= s. Nodes are immutable once published except for next, which the
// pruner cuts when no pinned reader can reach past it.
type pageNode struct {
	seq  uint64
	data []byte // nil: the page was removed by a truncation at seq
	next atomic.Pointer[pageNode]
}

// pageTable maps page numbers (offset / page size, from 0) to version
// chains. It grows by copy; a version keeps the table it was published
// with, which holds every chain it can need.
type pageTable struct {
	slots []atomic.Pointer[pageNode]
}

func (t *pageTable) grown(n int64) *pageTable {
	if n <= int64(cap(t.slots)) {
		// Slots past len(t.slots) are invisible to versions using t, so
		// the new table may share t's array.
		return &pageTable{slots: t.slots[:n]}
	}
	c := max(int64(cap(t.slots))*2, 64)
	for c < n {
		c *= 2
	}
	nt := &pageTable{slots: make([]atomic.Pointer[pageNode], n, c)}
	for i := range t.slots {
		nt.slots[i].Store(t.slots[i].Load())
	}
	return nt
}

// version is one committed state of the database: a snapshot.
type version struct {
	seq  uint64
	size int64
	tab  *pageTable
	refs int // pins; guarded by Database.mu
	// holders are the connections pinning this version (a subset of
	// refs); guarded by Database.mu. holdersBuf avoids an allocation for
	// the usual one or two.
	holders    []*conn
	holdersBuf [2]*conn
	gone       chan struct{} // closed when a newer version is published; lazy, under Database.mu
}

func newVersion(seq uint64, size int64, tab *pageTable) *version {
	v := &version{seq: seq, size: size, tab: tab}
	v.holders = v.holdersBuf[:0]
	return v
}

// page returns the content of page pgno as of v, or nil when v has no such
// page (a hole or beyond the end).
func (v *version) page(pgno int64) []byte {
	if pgno >= int64(len(v.tab.slots)) {
		return nil
	}
	n := v.tab.slots[pgno].Load()
	for n != nil && n.seq > v.seq {
		n = n.next.Load()
	}
	if n == nil {
		return nil
	}
	return n.data
}

type gcEntry struct {
	seq  uint64
	pgno int64
}

// Database is one SQLite database served by the VFS: a PageStore plus the
// multi-version page index readers use, the single writer lock and the
// in-flight transaction's overlay.
type Database struct {
	vfs         *VFS
	name        string
	store       PageStore
	pageSize    int64
	busyTimeout atomic.Int64 // nanoseconds; see SetBusyTimeout
	zero        []byte       // a shared all-zero page for holes
	waitHook    func(wait func() bool) bool
	recycler    PageRecycler // the store, if it may let superseded pages be reused

	// cdb is C memory (a thDb) with the newest version's sequence number
	// and the writer lock, which the C shim reads and takes without
	// calling Go. Access through seqPtr and writerPtr.
	cdb unsafe.Pointer

	// commitMu serializes publishing a new version (commit, Reload,
	// ApplyExternal) including the store call, so that a commit can never
	// be applied on top of content it did not start from.
	commitMu sync.Mutex

	mu     sync.Mutex
	cur    *version
	pinned []*version // versions with refs > 0, ascending seq
	gcq    []gcEntry  // pages with superseded versions, ascending seq
	// recycled holds pruned page buffers for reuse (only when the store
	// implements PageRecycler); the writer moves them to free.
	recycled [][]byte
	// freeNodes holds pruned version-chain nodes, unreachable by any
	// reader, for the next commits.
	freeNodes []*pageNode
	epoch     uint64
	epochA    atomic.Uint64 // epoch, for lock-free reads (Epoch)
	conns     int

	// Waiting for the writer lock (the word at writerPtr): waiters counts
	// goroutines that may be waiting, wake is closed (and replaced) when
	// the lock is released while there are any.
	waiters atomic.Int32
	wakeMu  sync.Mutex
	wake    chan struct{}
	raceW   atomic.Uint32 // see race_on.go

	// Owned by the connection holding the writer lock.
	ov    overlay
	free  [][]byte
	batch Batch

	lastErr atomic.Pointer[error]

	commits   atomic.Uint64
	rollbacks atomic.Uint64
	busy      atomic.Uint64
}

// overlay holds the pages a write transaction changed, until commit.
type overlay struct {
	base    *version
	pages   [][]byte // by page number; nil = unchanged
	touched []int64
	size    int64 // file size as the writer sees it
	floor   int64 // pages at or past floor and not in pages are holes (zeros)
}

func newDatabase(v *VFS, name string, store PageStore, o Options) (*Database, error) {
	ps := o.PageSize
	if ps == 0 {
		ps = DefaultPageSize
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("vfs: page size %d is not a power of two between 512 and 65536", ps)
	}
	bt := o.BusyTimeout
	if bt == 0 {
		bt = DefaultBusyTimeout
	}
	if bt < 0 {
		bt = 0
	}
	d := &Database{
		vfs: v, name: name, store: store, pageSize: int64(ps), waitHook: o.WaitHook,
		zero: make([]byte, ps),
		wake: make(chan struct{}),
	}
	d.busyTimeout.Store(int64(bt))
	if r, ok := store.(PageRecycler); ok {
		d.recycler = r
	}
	tab, size, err := d.load(1)
	if err != nil {
		return nil, err
	}
	d.epoch = 1
	d.epochA.Store(1)
	d.cur = newVersion(1, size, tab)
	d.cdb = cAllocDB()
	atomic.StoreUint64(d.seqPtr(), 1)
	return d, nil
}

// load reads the whole store into a fresh page table at sequence seq.
func (d *Database) load(seq uint64) (*pageTable, int64, error) {
	type pg struct {
		off  int64
		data []byte
	}
	var pages []pg
	err := d.store.Load(func(off int64, page []byte) error {
		if off < 0 || off%d.pageSize != 0 {
			return fmt.Errorf("vfs: %s: page offset %d is not a multiple of the page size %d", d.name, off, d.pageSize)
		}
		if int64(len(page)) != d.pageSize {
			return fmt.Errorf("vfs: %s: page at offset %d has %d bytes, want %d", d.name, off, len(page), d.pageSize)
		}
		pages = append(pages, pg{off, page})
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("vfs: loading %s: %w", d.name, err)
	}
	var size int64
	for _, p := range pages {
		size = max(size, p.off+d.pageSize)
	}
	tab := (&pageTable{}).grown(size / d.pageSize)
	for _, p := range pages {
		n := &pageNode{seq: seq, data: p.data}
		tab.slots[p.off/d.pageSize].Store(n)
	}
	return tab, size, nil
}

// SetBusyTimeout changes Options.BusyTimeout (zero means
// DefaultBusyTimeout, negative no wait) for waits that start afterwards.
func (d *Database) SetBusyTimeout(t time.Duration) {
	if t == 0 {
		t = DefaultBusyTimeout
	}
	d.busyTimeout.Store(int64(max(t, 0)))
}

// Name returns the name the database is attached under.
func (d *Database) Name() string { return d.name }

// PageSize returns the database's page size.
func (d *Database) PageSize() int { return int(d.pageSize) }

// Epoch returns the external-change counter. It starts at 1 and grows on
// every Reload. A connection that has run statements under an older epoch
// may hold stale caches; see ResetSQL.
func (d *Database) Epoch() uint64 { return d.epochA.Load() }

// Reload re-reads the whole store and makes its content the database's
// current state. Call it after the store was changed by something other
// than this VFS: DEL, UNLINK, FLUSHDB/FLUSHALL, RENAME, COPY, MOVE, RESTORE,
// an AOF load or a replica full sync. It bumps the epoch, so every open
// connection must run ResetSQL before its next statement (until then the
// VFS refuses to start a transaction on it, so stale caches are never
// used). Readers already inside a transaction keep their snapshot. A write
// transaction in progress can no longer commit: its COMMIT fails with
// SQLITE_BUSY_SNAPSHOT ("database is locked") and SQLite rolls it back, or,
// if it had already spilled pages, with a disk I/O error at the commit
// point. Reload never waits for the writer.
func (d *Database) Reload() error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	d.mu.Lock()
	seq := d.cur.seq + 1
	d.mu.Unlock()
	tab, size, err := d.load(seq)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch++
	d.epochA.Store(d.epoch)
	d.gcq = nil // chains of the old table die with it
	d.installLocked(newVersion(seq, size, tab))
	return nil
}

// ApplyExternal publishes a batch that is already in the store, written by
// a genuine SQLite commit elsewhere (a replica applying its master's page
// batch, an AOF replay). Unlike Reload it needs no cache reset: the batch
// carries page 1's new change counter and schema cookie, which invalidate
// SQLite's caches on their own. The store must already hold the batch.
func (d *Database) ApplyExternal(b *Batch) error {
	if b.PageSize != 0 && int64(b.PageSize) != d.pageSize {
		return fmt.Errorf("vfs: %s: batch page size %d, database page size %d", d.name, b.PageSize, d.pageSize)
	}
	if err := d.checkBatch(b); err != nil {
		return err
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.publishLocked(b, d.cur)
	return nil
}

// Differ is implemented by page stores that can tell which pages changed
// behind the VFS's back (KeyStore).
type Differ interface {
	// Diff calls changed for every stored page whose memory is not what
	// known returns for its offset, and returns how many pages are stored
	// and the end of the highest one.
	Diff(pageSize int, known func(off int64) []byte, changed func(off int64, page []byte)) (pages, size int64, err error)
}

// SyncExternal catches up with genuine SQLite commits applied to the store
// by someone else (a replica applying its master's page batches): the
// pages that changed since the current version become one new version, as
// ApplyExternal would publish them, so open connections keep their caches
// (page 1's change counter tells SQLite what changed). It reports false,
// changing nothing, when the store cannot diff or what it holds is not the
// result of such commits (pages missing, or page 1 unchanged while others
// changed): the caller must Reload then.
func (d *Database) SyncExternal() (bool, error) {
	df, ok := d.store.(Differ)
	if !ok {
		return false, nil
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	d.mu.Lock()
	cur := d.cur
	d.mu.Unlock()
	b := &Batch{PageSize: int(d.pageSize)}
	pages, size, err := df.Diff(int(d.pageSize), func(off int64) []byte {
		if off%d.pageSize != 0 {
			return nil
		}
		return cur.page(off / d.pageSize)
	}, func(off int64, page []byte) {
		b.Pages = append(b.Pages, Page{Off: off, Data: page})
	})
	if err != nil {
		return false, err
	}
	if size != pages*d.pageSize {
		return false, nil // not a contiguous database image
	}
	if len(b.Pages) == 0 && size == cur.size {
		return true, nil
	}
	sort.Slice(b.Pages, func(i, j int) bool { return b.Pages[i].Off < b.Pages[j].Off })
	if len(b.Pages) == 0 || b.Pages[0].Off != 0 {
		return false, nil // page 1 unchanged: not a SQLite commit
	}
	for off := size; off < cur.size; off += d.pageSize {
		b.Deleted = append(b.Deleted, off)
	}
	b.Size = size
	if err := d.checkBatch(b); err != nil {
		return false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur != cur {
		return false, nil
	}
	d.publishLocked(b, d.cur)
	return true, nil
}

func (d *Database) checkBatch(b *Batch) error {
	if b.Size < 0 || b.Size%d.pageSize != 0 {
		return fmt.Errorf("vfs: %s: batch size %d is not a multiple of the page size", d.name, b.Size)
	}
	for _, p := range b.Pages {
		if p.Off < 0 || p.Off%d.pageSize != 0 || p.Off >= b.Size || int64(len(p.Data)) != d.pageSize {
			return fmt.Errorf("vfs: %s: bad page at offset %d (%d bytes)", d.name, p.Off, len(p.Data))
		}
	}
	return nil
}

// installLocked makes v the current version. d.mu held.
func (d *Database) installLocked(v *version) {
	old := d.cur
	d.cur = v
	// Publish the new sequence before revoking idle pins of the old
	// version: a connection going idle concurrently either sees the new
	// sequence and keeps its pin for Go to release, or is seen IDLE here.
	atomic.StoreUint64(d.seqPtr(), v.seq)
	for i := len(old.holders) - 1; i >= 0; i-- {
		if c := old.holders[i]; c.casPin(pinIdle, pinNone) {
			c.raceAcquire()
			d.unpinConnLocked(c, old)
		}
	}
	if old.gone != nil {
		close(old.gone)
	}
	d.pruneLocked()
}

// pinConnLocked records connection c as a holder of v.
func (d *Database) pinConnLocked(c *conn, v *version) {
	c.hidx = len(v.holders)
	v.holders = append(v.holders, c)
	d.pinLocked(v)
}

// unpinConnLocked removes connection c from v's holders.
func (d *Database) unpinConnLocked(c *conn, v *version) {
	last := len(v.holders) - 1
	moved := v.holders[last]
	v.holders[c.hidx] = moved
	moved.hidx = c.hidx
	v.holders[last] = nil
	v.holders = v.holders[:last]
	d.unpinLocked(v)
}

// publishLocked turns a committed batch into the next version on top of
// base (the current version). d.mu and d.commitMu held.
func (d *Database) publishLocked(b *Batch, base *version) *version {
	seq := base.seq + 1
	tab := base.tab
	if n := b.Size / d.pageSize; n > int64(len(tab.slots)) {
		tab = tab.grown(n)
	}
	var slab []pageNode
	push := func(pgno int64, data []byte) {
		if pgno >= int64(len(tab.slots)) {
			return // a deletion past anything the table ever held
		}
		old := tab.slots[pgno].Load()
		if old == nil && data == nil {
			return
		}
		var n *pageNode
		if k := len(d.freeNodes); k > 0 {
			n = d.freeNodes[k-1]
			d.freeNodes[k-1] = nil
			d.freeNodes = d.freeNodes[:k-1]
		} else {
			// One allocation for the rest of the commit's nodes. A node
			// pruned later keeps its slab alive but not its page: pruning
			// clears data and next.
			if len(slab) == 0 {
				slab = make([]pageNode, len(b.Pages)+len(b.Deleted))
			}
			n = &slab[0]
			slab = slab[1:]
		}
		n.seq, n.data = seq, data
		n.next.Store(old)
		tab.slots[pgno].Store(n)
		if old != nil {
			d.gcq = append(d.gcq, gcEntry{seq: seq, pgno: pgno})
		}
	}
	for _, p := range b.Pages {
		push(p.Off/d.pageSize, p.Data)
	}
	for _, off := range b.Deleted {
		push(off/d.pageSize, nil)
	}
	v := newVersion(seq, b.Size, tab)
	d.installLocked(v)
	return v
}

// pinLocked registers a reader of v (always the newest version, so the
// pinned list stays sorted by appending).
func (d *Database) pinLocked(v *version) {
	if v.refs == 0 {
		d.pinned = append(d.pinned, v)
	}
	v.refs++
}

func (d *Database) unpinLocked(v *version) {
	v.refs--
	if v.refs > 0 {
		return
	}
	if i := slices.Index(d.pinned, v); i >= 0 {
		d.pinned = slices.Delete(d.pinned, i, i+1)
		if i == 0 {
			d.pruneLocked()
		}
	}
}

// pruneLocked drops page versions no pinned reader can see any more: for
// every page superseded at or before the oldest pinned sequence, the chain
// is cut after the newest node that sequence sees.
func (d *Database) pruneLocked() {
	oldest := d.cur.seq
	if len(d.pinned) > 0 {
		oldest = d.pinned[0].seq
	}
	tab := d.cur.tab
	recycle := d.recycler != nil && d.recycler.RecyclePages()
	i := 0
	for ; i < len(d.gcq) && d.gcq[i].seq <= oldest; i++ {
		pgno := d.gcq[i].pgno
		if pgno >= int64(len(tab.slots)) {
			continue
		}
		head := tab.slots[pgno].Load()
		n := head
		for n != nil && n.seq > oldest {
			n = n.next.Load()
		}
		if n == nil {
			continue
		}
		if tail := n.next.Load(); tail != nil {
			n.next.Store(nil)
			// Unreachable for every reader now; clear the nodes so a
			// lingering reference cannot keep their pages alive.
			for t := tail; t != nil; {
				nx := t.next.Load()
				if recycle && t.data != nil && &t.data[0] != &d.zero[0] && len(d.recycled) < maxRecycled {
					d.recycled = append(d.recycled, t.data)
				}
				t.data = nil
				t.next.Store(nil)
				if len(d.freeNodes) < maxFreeNodes {
					d.freeNodes = append(d.freeNodes, t)
				}
				t = nx
			}
		}
		if n == head && n.data == nil {
			tab.slots[pgno].Store(nil) // a deletion every reader sees
		}
	}
	d.gcq = d.gcq[:copy(d.gcq, d.gcq[i:])]
}

// tryWriter takes the writer lock if it is free. (The C shim takes it
// directly for an uncontended RESERVED lock.)
func (d *Database) tryWriter() bool {
	if atomic.CompareAndSwapInt32(d.writerPtr(), 0, 1) {
		d.raceAcquireWriter()
		return true
	}
	return false
}

// writerHeld reports whether some connection holds the writer lock.
func (d *Database) writerHeld() bool { return atomic.LoadInt32(d.writerPtr()) != 0 }

// acquireWriter takes the writer lock, waiting until deadline and giving
// up early when stop closes. Returns false on timeout or stop.
func (d *Database) acquireWriter(deadline time.Time, stop <-chan struct{}) bool {
	if d.tryWriter() {
		return true
	}
	if d.waitHook != nil {
		return d.waitHook(func() bool { return d.waitWriter(deadline, stop) })
	}
	return d.waitWriter(deadline, stop)
}

// waitWriter blocks until it takes the writer lock, deadline passes or stop
// closes.
func (d *Database) waitWriter(deadline time.Time, stop <-chan struct{}) bool {
	if d.tryWriter() {
		return true
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	d.waiters.Add(1)
	defer d.waiters.Add(-1)
	for {
		// Take the wake channel before trying, so a release between the
		// try and the wait still wakes us.
		d.wakeMu.Lock()
		wake := d.wake
		d.wakeMu.Unlock()
		if d.tryWriter() {
			return true
		}
		select {
		case <-wake:
		case <-stop:
			return false
		case <-t.C:
			return false
		}
	}
}

// releaseWriter frees the writer lock and wakes any waiters.
func (d *Database) releaseWriter() {
	d.raceReleaseWriter()
	atomic.StoreInt32(d.writerPtr(), 0)
	if d.waiters.Load() > 0 {
		d.wakeMu.Lock()
		close(d.wake)
		d.wake = make(chan struct{})
		d.wakeMu.Unlock()
	}
}

// allocPage returns a private page buffer holding a copy of src.
func (d *Database) allocPage(src []byte) []byte {
	if n := len(d.free); n > 0 {
		b := d.free[n-1]
		d.free = d.free[:n-1]
		copy(b, src)
		return b
	}
	// Growing a nil slice allocates without zeroing first (make would
	// clear the buffer only for copy to overwrite it).
	return append([]byte(nil), src...)
}

// maxFreeNodes bounds the pruned chain nodes kept for reuse.
const maxFreeNodes = 4096

// maxRecycled bounds the pruned pages kept for reuse (16 MiB at 4 KiB).
const maxRecycled = 4096

// beginOverlay starts a write transaction on top of base. Writer lock and
// d.mu held.
func (d *Database) beginOverlay(base *version) {
	if len(d.recycled) > 0 && len(d.free) < maxRecycled {
		n := min(len(d.recycled), maxRecycled-len(d.free))
		d.free = append(d.free, d.recycled[len(d.recycled)-n:]...)
		clear(d.recycled[len(d.recycled)-n:])
		d.recycled = d.recycled[:len(d.recycled)-n]
	}
	d.ov.base = base
	d.ov.size = base.size
	d.ov.floor = base.size
	d.ov.touched = d.ov.touched[:0]
}

func (d *Database) ovEnsure(pgno int64) {
	if pgno >= int64(len(d.ov.pages)) {
		n := max(pgno+1, int64(2*len(d.ov.pages)), 64)
		d.ov.pages = append(d.ov.pages, make([][]byte, n-int64(len(d.ov.pages)))...)
	}
}

// discardOverlay drops an uncommitted transaction, recycling its pages.
func (d *Database) discardOverlay() {
	for _, pgno := range d.ov.touched {
		if b := d.ov.pages[pgno]; b != nil {
			d.free = append(d.free, b)
			d.ov.pages[pgno] = nil
		}
	}
	// Keep a bounded reserve: a huge rolled-back transaction should not
	// pin its memory forever.
	if len(d.free) > maxRecycled {
		clear(d.free[maxRecycled:])
		d.free = d.free[:maxRecycled]
	}
	d.ov.touched = d.ov.touched[:0]
	d.ov.base = nil
	clear(d.batch.Pages) // may reference recycled buffers after a failed commit
	d.batch.Pages = d.batch.Pages[:0]
}

// ovRead returns the page the writer sees at pgno, nil meaning zeros.
func (d *Database) ovRead(pgno int64) []byte {
	if pgno < int64(len(d.ov.pages)) {
		if b := d.ov.pages[pgno]; b != nil {
			return b
		}
	}
	if pgno*d.pageSize >= d.ov.floor {
		return nil
	}
	return d.ov.base.page(pgno)
}

// buildBatch turns the overlay into d.batch. Writer lock held.
func (d *Database) buildBatch() *Batch {
	ov := &d.ov
	b := &d.batch
	b.PageSize = int(d.pageSize)
	b.Pages = b.Pages[:0]
	b.Deleted = b.Deleted[:0]
	b.Size = ov.size
	npages := ov.size / d.pageSize
	for _, pgno := range ov.touched {
		if data := ov.pages[pgno]; data != nil && pgno < npages {
			b.Pages = append(b.Pages, Page{Off: pgno * d.pageSize, Data: data})
		}
	}
	// Pages between the lowest truncation point (or the old end) and the
	// new end that the transaction did not write are holes: they exist in
	// the new image and read as zeros, so the store must hold them.
	for pgno := ov.floor / d.pageSize; pgno < npages; pgno++ {
		if pgno >= int64(len(ov.pages)) || ov.pages[pgno] == nil {
			b.Pages = append(b.Pages, Page{Off: pgno * d.pageSize, Data: d.zero})
		}
	}
	slices.SortFunc(b.Pages, func(x, y Page) int {
		switch {
		case x.Off < y.Off:
			return -1
		case x.Off > y.Off:
			return 1
		}
		return 0
	})
	for off := ov.size; off < ov.base.size; off += d.pageSize {
		b.Deleted = append(b.Deleted, off)
	}
	return b
}

// endCommit forgets the overlay after its pages went to the store: they are
// the store's now and must not be recycled.
func (d *Database) endCommit() {
	for _, pgno := range d.ov.touched {
		if b := d.ov.pages[pgno]; b != nil {
			if pgno >= d.ov.size/d.pageSize {
				d.free = append(d.free, b) // written, then cut off again
			}
			d.ov.pages[pgno] = nil
		}
	}
	d.ov.touched = d.ov.touched[:0]
	d.ov.base = nil
	clear(d.batch.Pages) // drop references to pages we no longer own
	d.batch.Pages = d.batch.Pages[:0]
}

func (d *Database) setCommitError(err error) {
	err = fmt.Errorf("vfs: committing to %s: %w", d.name, err)
	d.lastErr.Store(&err)
}

// LastCommitError returns the error of the most recent store commit that
// failed (SQLite reports such a commit as a disk I/O error), or nil.
func (d *Database) LastCommitError() error {
	if p := d.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats is a point-in-time summary of a database.
type Stats struct {
	// Pages and Bytes describe the current committed version.
	Pages int64
	Bytes int64
	// Version is the sequence number of the current committed version.
	Version uint64
	// Epoch counts external changes (see Reload).
	Epoch uint64
	// Commits counts write transactions that published a batch;
	// Rollbacks those that ended without committing (ROLLBACK, a failed
	// statement, a refused commit, a connection closed mid-transaction).
	// A write transaction is one that took the writer lock.
	Commits   uint64
	Rollbacks uint64
	// Busy counts writer-lock requests refused with SQLITE_BUSY.
	Busy uint64
	// Conns is the number of open SQLite connections.
	Conns int
	// PinnedVersions is the number of distinct versions readers hold,
	// including the newest version, which idle connections keep pinned
	// until a commit supersedes it.
	PinnedVersions int
}

// Stats returns the database's statistics.
func (d *Database) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{
		Pages:          d.cur.size / d.pageSize,
		Bytes:          d.cur.size,
		Version:        d.cur.seq,
		Epoch:          d.epoch,
		Commits:        d.commits.Load(),
		Rollbacks:      d.rollbacks.Load(),
		Busy:           d.busy.Load(),
		Conns:          d.conns,
		PinnedVersions: len(d.pinned),
	}
}
