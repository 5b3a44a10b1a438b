package vfs

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/thredis/thredis/keyspace"
)

// forwardingStore writes every committed batch into a replica's hash by
// hand, as a replica's master link applies its master's HSET / HDEL page
// batches, and marks the replica's store External.
type forwardingStore struct {
	*MemStore
	replica *KeyStore
}

func (f *forwardingStore) Commit(b *Batch) error {
	if err := f.MemStore.Commit(b); err != nil {
		return err
	}
	h, err := f.replica.DB.HashForWrite([]byte(f.replica.Key), true)
	if err != nil {
		return err
	}
	for _, p := range b.Pages {
		h.SetString(strconv.FormatInt(p.Off, 10), string(p.Data))
	}
	for _, off := range b.Deleted {
		h.Delete([]byte(strconv.FormatInt(off, 10)))
	}
	f.replica.External.Store(true)
	return nil
}

// TestSyncExternal: a replica's connection keeps its caches across page
// batches applied behind the VFS's back and sees each one after
// SyncExternal; a hash edited by hand (page 1 unchanged) is refused, so
// the caller reloads instead.
func TestSyncExternal(t *testing.T) {
	ks := keyspace.New(1, nil)
	rstore := &KeyStore{DB: ks.DB(0), Key: "db"}
	fs := &forwardingStore{MemStore: NewMemStore(), replica: rstore}
	master, err := testVFS.Attach(t.Name()+"-master", fs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mdb := openDSN(t, master.DSN())
	t.Cleanup(func() { mdb.Close(); testVFS.Detach(master.Name()) })
	mustExec(t, mdb, "CREATE TABLE t (a INTEGER, b BLOB)")

	replica, err := testVFS.Attach(t.Name()+"-replica", rstore, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rdb := openDSN(t, replica.DSN())
	t.Cleanup(func() { rdb.Close(); testVFS.Detach(replica.Name()) })
	rc := oneConn(t, rdb, 0)
	if got := queryInt(t, rc, "SELECT count(*) FROM t"); got != 0 {
		t.Fatal(got)
	}
	epoch := replica.Epoch()
	sync := func() {
		t.Helper()
		ok, err := replica.SyncExternal()
		if err != nil || !ok {
			t.Fatalf("SyncExternal = %v, %v", ok, err)
		}
		rstore.External.Store(false)
	}
	for i := 1; i <= 5; i++ {
		mustExec(t, mdb, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200) INSERT INTO t SELECT x, randomblob(3000) FROM c")
		if i == 3 {
			mustExec(t, mdb, "CREATE INDEX ta ON t(a)")
		}
		sync()
		if got := queryInt(t, rc, "SELECT count(*) FROM t"); got != int64(200*i) {
			t.Fatalf("after batch %d: %d rows", i, got)
		}
	}
	// A shrinking commit deletes pages.
	mustExec(t, mdb, "DELETE FROM t WHERE a > 10")
	mustExec(t, mdb, "VACUUM")
	sync()
	if got := queryInt(t, rc, "SELECT count(*) FROM t"); got != 50 {
		t.Fatalf("after vacuum: %d rows", got)
	}
	integrityOK(t, rc)
	if replica.Epoch() != epoch {
		t.Fatal("SyncExternal bumped the epoch (connections would drop their caches)")
	}
	var img []byte
	h, _ := ks.DB(0).Hash([]byte("db"))
	for off := int64(0); ; off += int64(replica.PageSize()) {
		v, ok := h.Get([]byte(strconv.FormatInt(off, 10)))
		if !ok {
			break
		}
		img = append(img, v...)
	}
	if !bytes.Equal(img, fs.MemStore.Image()) {
		t.Fatal("replica hash differs from the master's image")
	}

	// A page changed by hand, page 1 untouched: not a SQLite commit.
	h.SetString(strconv.Itoa(replica.PageSize()), string(bytes.Repeat([]byte{0xff}, replica.PageSize())))
	if ok, err := replica.SyncExternal(); ok || err != nil {
		t.Fatalf("hand-edited page accepted: %v %v", ok, err)
	}
	// Nothing changed: accepted, nothing published.
	if err := replica.Reload(); err != nil {
		t.Fatal(err)
	}
	if ok, err := replica.SyncExternal(); !ok || err != nil {
		t.Fatalf("no change: %v %v", ok, err)
	}
}
