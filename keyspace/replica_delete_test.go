package keyspace

import (
	"testing"
	"time"
)

// TestReplicaModeDeleteRemovesExpiredKey: on a replica an expired key is
// hidden but kept until its master's DEL; that DEL must remove it (and
// count as a change, for the replica's AOF), though it reports the key as
// already gone. No expiry hook runs: the replica never expires by itself.
func TestReplicaModeDeleteRemovesExpiredKey(t *testing.T) {
	ks, l := newTestKS(t)
	ks.ReplicaMode = true
	db := ks.DB(0)
	db.SetString(b("gone"), b("v"), false)
	db.SetExpire(b("gone"), ks.NowMs()-1)
	db.SetString(b("live"), b("v"), false)
	if db.Len() != 2 || db.Exists(b("gone")) {
		t.Fatalf("len=%d exists(gone)=%v, want 2/false", db.Len(), db.Exists(b("gone")))
	}
	dirty := ks.Dirty
	if db.Delete(b("gone")) {
		t.Error("Delete of an expired key reported it existed")
	}
	if db.Len() != 1 || db.ExpiresLen() != 0 {
		t.Fatalf("after Delete: len=%d expires=%d, want 1/0", db.Len(), db.ExpiresLen())
	}
	if ks.Dirty == dirty {
		t.Error("removing the stored expired key did not count as a change")
	}
	if len(l.keys) != 0 {
		t.Errorf("expired hook calls %v on a replica", l.keys)
	}
	if !db.Delete(b("live")) || db.Len() != 0 {
		t.Fatalf("Delete of a live key: len=%d", db.Len())
	}
	dirty = ks.Dirty
	if db.Delete(b("never")) || ks.Dirty != dirty {
		t.Error("Delete of a missing key reported it or counted a change")
	}
}

// TestMasterSeesExpiredKeys: on a replica, a command from the master acts
// on a key whose TTL passed (the replica's clock may be ahead), while
// other clients see it as missing.
func TestMasterSeesExpiredKeys(t *testing.T) {
	ks := New(1, nil)
	ks.ReplicaMode = true
	db := ks.DB(0)
	db.SetString([]byte("k"), []byte("10"), false)
	db.SetExpire([]byte("k"), time.Now().Add(-time.Second).UnixMilli())
	if _, found, _ := db.GetString([]byte("k")); found {
		t.Fatal("an ordinary client sees an expired key")
	}
	ks.MasterApplying = true
	v, found, _ := db.GetString([]byte("k"))
	ks.MasterApplying = false
	if !found || string(v) != "10" {
		t.Fatalf("the master's command does not see the key: %q %v", v, found)
	}
}
