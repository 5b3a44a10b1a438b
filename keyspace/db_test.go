package keyspace

import (
	"strconv"
	"testing"
	"time"
)

// expiredLog records KeyExpired calls.
type expiredLog struct{ keys []string }

func (l *expiredLog) KeyExpired(db int, key string) {
	l.keys = append(l.keys, strconv.Itoa(db)+":"+key)
}

// countWatcher counts notifications.
type countWatcher struct{ n int }

func (w *countWatcher) WatchedKeyTouched() { w.n++ }

func newTestKS(t *testing.T) (*Keyspace, *expiredLog) {
	t.Helper()
	l := &expiredLog{}
	return New(4, l), l
}

func b(s string) []byte { return []byte(s) }

func TestLookupFlagsStatsAndTouch(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	db.SetString(b("k"), b("v"), false)
	now := ks.lruClock.Load()
	ks.lruClock.Store(now + 100)

	if db.Lookup(b("k"), LookupNoTouch|LookupRead) != KindString {
		t.Fatal("k not found")
	}
	if db.Lookup(b("missing"), LookupRead) != KindNone {
		t.Fatal("missing found")
	}
	if ks.Stats.KeyspaceHits != 1 || ks.Stats.KeyspaceMisses != 1 {
		t.Fatalf("hits/misses = %d/%d, want 1/1", ks.Stats.KeyspaceHits, ks.Stats.KeyspaceMisses)
	}
	info, _ := db.ObjectLookup(b("k"), LookupNoTouch|LookupRead)
	if info.IdleSecs != 100 {
		t.Fatalf("idle after a no-touch lookup = %d, want 100", info.IdleSecs)
	}
	// A write-style lookup (no LookupRead) touches but is not counted,
	// and neither is Object (DEBUG OBJECT).
	db.Lookup(b("k"), 0)
	db.Object(b("k"))
	if ks.Stats.KeyspaceHits != 2 { // ObjectLookup counted as a read
		t.Fatalf("hits = %d, want 2", ks.Stats.KeyspaceHits)
	}
	if info, _ := db.Object(b("k")); info.IdleSecs != 0 {
		t.Fatalf("idle after touch = %d, want 0", info.IdleSecs)
	}
	// CLIENT NO-TOUCH mode leaves the access time alone.
	ks.lruClock.Store(now + 200)
	ks.NoTouch = true
	db.Lookup(b("k"), 0)
	ks.NoTouch = false
	if info, _ := db.Object(b("k")); info.IdleSecs != 100 {
		t.Fatalf("idle after a NoTouch-mode lookup = %d, want 100", info.IdleSecs)
	}
}

func TestExpiredKeyReclaimedWithoutDirty(t *testing.T) {
	ks, l := newTestKS(t)
	db := ks.DB(1)
	db.SetString(b("k"), b("v"), false)
	db.SetExpire(b("k"), ks.NowMs()-1)
	w := &countWatcher{}
	db.Watch("k", w)
	dirty := ks.Dirty
	if db.Exists(b("k")) {
		t.Fatal("expired key exists")
	}
	if ks.Dirty != dirty {
		t.Fatal("reclaiming an expired key bumped Dirty; a no-op write command would be propagated")
	}
	if len(l.keys) != 1 || l.keys[0] != "1:k" {
		t.Fatalf("KeyExpired calls = %v", l.keys)
	}
	if w.n != 1 || ks.Stats.ExpiredKeys != 1 || db.Len() != 0 || db.ExpiresLen() != 0 {
		t.Fatalf("watch=%d expired=%d len=%d expires=%d", w.n, ks.Stats.ExpiredKeys, db.Len(), db.ExpiresLen())
	}
}

func TestReplicaModeKeepsExpiredKeys(t *testing.T) {
	ks, l := newTestKS(t)
	ks.ReplicaMode = true
	db := ks.DB(0)
	for i := 0; i < 50; i++ {
		k := b("k" + strconv.Itoa(i))
		db.SetString(k, b("v"), false)
		db.SetExpire(k, ks.NowMs()-1)
	}
	if db.Exists(b("k1")) {
		t.Fatal("expired key visible on a replica")
	}
	if n := db.ActiveExpire(20, func() bool { return false }); n != 0 {
		t.Fatalf("active expiry deleted %d keys on a replica", n)
	}
	// Every key is volatile and expired: RANDOMKEY must still end.
	if _, ok := db.RandomKey(); !ok {
		t.Fatal("RandomKey found nothing in a non-empty replica db")
	}
	if db.Len() != 50 || len(l.keys) != 0 {
		t.Fatalf("len=%d expired hook calls=%d, want 50/0", db.Len(), len(l.keys))
	}
}

func TestExpireTime(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	if got := db.ExpireTime(b("k"), 0); got != -2 {
		t.Fatalf("missing key: %d", got)
	}
	db.SetString(b("k"), b("v"), false)
	if got := db.ExpireTime(b("k"), 0); got != -1 {
		t.Fatalf("no TTL: %d", got)
	}
	at := ks.NowMs() + 5000
	db.SetExpire(b("k"), at)
	if got := db.ExpireTime(b("k"), 0); got != at {
		t.Fatalf("TTL: %d, want %d", got, at)
	}
	if !db.Persist(b("k")) || db.Persist(b("k")) {
		t.Fatal("Persist should succeed once")
	}
	if got := db.ExpireTime(b("k"), 0); got != -1 {
		t.Fatalf("after persist: %d", got)
	}
}

func TestRenameMovesValueAndTTL(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	h, _ := db.HashForWrite(b("src"), true)
	h.Set(b("f"), b("v"))
	at := ks.NowMs() + 10000
	db.SetExpire(b("src"), at)
	db.SetString(b("dst"), b("old"), false)
	db.SetExpire(b("dst"), at+5)

	if exists, moved := db.Rename(b("src"), b("dst"), true); !exists || moved {
		t.Fatalf("RENAMENX onto an existing key: exists=%v moved=%v", exists, moved)
	}
	if exists, moved := db.Rename(b("src"), b("dst"), false); !exists || !moved {
		t.Fatalf("RENAME: exists=%v moved=%v", exists, moved)
	}
	if db.Exists(b("src")) {
		t.Fatal("src still exists")
	}
	got, _ := db.Hash(b("dst"))
	if got != h {
		t.Fatal("dst does not hold src's hash")
	}
	if when := db.ExpireTime(b("dst"), 0); when != at {
		t.Fatalf("dst TTL %d, want src's %d", when, at)
	}
	if db.ExpiresLen() != 1 {
		t.Fatalf("expires has %d entries, want 1", db.ExpiresLen())
	}
	// A key without TTL replacing one with TTL leaves no TTL behind.
	db.SetString(b("plain"), b("x"), false)
	db.Rename(b("plain"), b("dst"), false)
	if when := db.ExpireTime(b("dst"), 0); when != -1 {
		t.Fatalf("dst TTL %d after rename of a persistent key, want -1", when)
	}
	if exists, _ := db.Rename(b("nope"), b("x"), false); exists {
		t.Fatal("missing source reported as existing")
	}
}

func TestCopyIsDeep(t *testing.T) {
	ks, _ := newTestKS(t)
	src, dst := ks.DB(0), ks.DB(2)
	h, _ := src.HashForWrite(b("h"), true)
	h.Set(b("f"), b("1"))
	at := ks.NowMs() + 10000
	src.SetExpire(b("h"), at)
	if !src.CopyTo(b("h"), dst, b("h2"), false) {
		t.Fatal("copy failed")
	}
	h.Set(b("f"), b("2"))
	c, _ := dst.Hash(b("h2"))
	if v, _ := c.Get(b("f")); string(v) != "1" {
		t.Fatalf("copy changed with its source: %q", v)
	}
	if when := dst.ExpireTime(b("h2"), 0); when != at {
		t.Fatalf("copy TTL %d, want %d", when, at)
	}
	dst.SetString(b("s"), b("x"), false)
	if src.CopyTo(b("h"), dst, b("s"), false) {
		t.Fatal("copy over an existing key without replace")
	}
	if !src.CopyTo(b("h"), dst, b("s"), true) || dst.Type(b("s")) != KindHash {
		t.Fatal("copy with replace did not replace")
	}
	// A string being appended to (strBuf) is copied by value.
	buf, _ := src.StringBuffer(b("str"), true)
	*buf = append(*buf, "abc"...)
	src.CopyTo(b("str"), src, b("str2"), false)
	*buf = append(*buf, "def"...)
	if v, _, _ := src.GetString(b("str2")); string(v) != "abc" {
		t.Fatalf("copied string = %q", v)
	}
}

func TestMoveTransfersValue(t *testing.T) {
	ks, _ := newTestKS(t)
	a, c := ks.DB(0), ks.DB(1)
	h, _ := a.HashForWrite(b("k"), true)
	h.Set(b("f"), b("v"))
	at := ks.NowMs() + 10000
	a.SetExpire(b("k"), at)
	if !a.MoveTo(b("k"), c) {
		t.Fatal("move failed")
	}
	if a.Exists(b("k")) || a.ExpiresLen() != 0 {
		t.Fatal("key left behind")
	}
	if got, _ := c.Hash(b("k")); got != h {
		t.Fatal("moved value is not the same object")
	}
	if when := c.ExpireTime(b("k"), 0); when != at {
		t.Fatalf("moved TTL %d, want %d", when, at)
	}
	a.SetString(b("k"), b("x"), false)
	if a.MoveTo(b("k"), c) || a.MoveTo(b("missing"), c) || a.MoveTo(b("k"), a) {
		t.Fatal("move onto an existing key, of a missing key or within a db succeeded")
	}
}

func TestKeysSkipsExpiredWithoutDeleting(t *testing.T) {
	ks, l := newTestKS(t)
	db := ks.DB(0)
	db.SetString(b("live"), b("v"), false)
	db.SetString(b("dead"), b("v"), false)
	db.SetExpire(b("dead"), ks.NowMs()-1)
	var got []string
	db.Keys(func(k []byte) bool {
		got = append(got, string(k))
		return true
	})
	if len(got) != 1 || got[0] != "live" {
		t.Fatalf("Keys = %v", got)
	}
	if db.Len() != 2 || len(l.keys) != 0 {
		t.Fatal("Keys reclaimed an expired key; Redis's KEYS does not")
	}
}

func TestScanAcrossGrowth(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	const n = 1000
	for i := 0; i < n; i++ {
		db.SetString(b("k"+strconv.Itoa(i)), b("v"), false)
	}
	seen := map[string]bool{}
	cursor := uint64(0)
	extra := 0
	for {
		cursor = db.Scan(cursor, func(k []byte, kind Kind) {
			if kind != KindString {
				t.Fatalf("kind %v", kind)
			}
			seen[string(k)] = true
		})
		// Grow the table during the iteration: the reverse-binary cursor
		// must still visit every original key.
		if extra < 5000 {
			for j := 0; j < 50; j++ {
				db.SetString(b("x"+strconv.Itoa(extra)), b("v"), false)
				extra++
			}
		}
		if cursor == 0 {
			break
		}
	}
	for i := 0; i < n; i++ {
		if !seen["k"+strconv.Itoa(i)] {
			t.Fatalf("k%d never returned", i)
		}
	}
}

func TestRandomKeyReclaimsExpired(t *testing.T) {
	ks, l := newTestKS(t)
	db := ks.DB(0)
	for i := 0; i < 300; i++ {
		k := b("k" + strconv.Itoa(i))
		db.SetString(k, b("v"), false)
		db.SetExpire(k, ks.NowMs()-1)
	}
	if k, ok := db.RandomKey(); ok {
		t.Fatalf("RandomKey returned %q from a db of expired keys", k)
	}
	if db.Len() != 0 || len(l.keys) != 300 {
		t.Fatalf("len=%d reclaimed=%d, want 0/300", db.Len(), len(l.keys))
	}
	db.SetString(b("live"), b("v"), false)
	if k, ok := db.RandomKey(); !ok || k != "live" {
		t.Fatalf("RandomKey = %q %v", k, ok)
	}
}

func TestActiveExpireReclaimsEverything(t *testing.T) {
	ks, l := newTestKS(t)
	db := ks.DB(3)
	past, future := ks.NowMs()-1, ks.NowMs()+100000
	for i := 0; i < 5000; i++ {
		k := b("k" + strconv.Itoa(i))
		db.SetString(k, b("v"), false)
		if i%10 == 0 {
			db.SetExpire(k, future)
		} else {
			db.SetExpire(k, past)
		}
	}
	db.SetString(b("persistent"), b("v"), false)
	// A few expired keys among many live ones are still found: the
	// cursor visits every key in turn, where random sampling would
	// stall once the expired share drops under the threshold.
	total := 0
	for i := 0; i < 2000 && db.ExpiresLen() > 500; i++ {
		total += db.ActiveExpire(20, func() bool { return false })
	}
	if total != 4500 || db.Len() != 501 || db.ExpiresLen() != 500 {
		t.Fatalf("reclaimed %d, len %d, expires %d; want 4500, 501, 500", total, db.Len(), db.ExpiresLen())
	}
	if len(l.keys) != 4500 || l.keys[0][:2] != "3:" {
		t.Fatalf("hook saw %d keys (first %q)", len(l.keys), l.keys[0])
	}
}

func TestActiveExpireHonoursDeadline(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	for i := 0; i < 2000; i++ {
		k := b("k" + strconv.Itoa(i))
		db.SetString(k, b("v"), false)
		db.SetExpire(k, ks.NowMs()-1)
	}
	// A deadline that is already past stops after one round.
	n := db.ActiveExpire(20, func() bool { return true })
	if n == 0 || n > 40 {
		t.Fatalf("one round reclaimed %d keys, want 1..40", n)
	}
}

func TestFlushAndSwapTouchWatchers(t *testing.T) {
	ks, _ := newTestKS(t)
	a, c := ks.DB(0), ks.DB(1)
	a.SetString(b("k"), b("v"), false)
	wa, wMissing, wc := &countWatcher{}, &countWatcher{}, &countWatcher{}
	a.Watch("k", wa)
	a.Watch("missing", wMissing)
	c.Watch("k", wc)
	ks.SwapDB(0, 1)
	if wa.n == 0 || wc.n == 0 || wMissing.n != 0 {
		t.Fatalf("swap notifications: a=%d c=%d missing=%d", wa.n, wc.n, wMissing.n)
	}
	if a.Exists(b("k")) || !c.Exists(b("k")) {
		t.Fatal("swap did not exchange contents")
	}
	wc.n = 0
	c.SetExpire(b("k"), ks.NowMs()+10000)
	ks.FlushAll()
	if wc.n == 0 || c.Len() != 0 || c.ExpiresLen() != 0 {
		t.Fatal("flush did not notify or did not empty")
	}
}

func TestLFUCounter(t *testing.T) {
	ks, _ := newTestKS(t)
	ks.SetLFU(true, 10, 1)
	db := ks.DB(0)
	db.SetString(b("k"), b("v"), false)
	if info, _ := db.Object(b("k")); info.Freq != lfuInitVal {
		t.Fatalf("new key freq %d, want %d", info.Freq, lfuInitVal)
	}
	// From the initial value the first access always increments.
	db.Lookup(b("k"), LookupRead)
	if info, _ := db.Object(b("k")); info.Freq != lfuInitVal+1 {
		t.Fatalf("freq after one access %d, want %d", info.Freq, lfuInitVal+1)
	}
	// Many accesses grow it logarithmically, never past 255.
	for i := 0; i < 100000; i++ {
		db.Lookup(b("k"), 0)
	}
	info, _ := db.Object(b("k"))
	if info.Freq <= lfuInitVal+1 || info.Freq > 255 {
		t.Fatalf("freq after many accesses %d", info.Freq)
	}
	// Decay: one step per lfu-decay-time minute.
	ks.lruClock.Add(3 * 60)
	if after, _ := db.Object(b("k")); after.Freq != info.Freq-3 {
		t.Fatalf("freq after 3 minutes %d, want %d", after.Freq, info.Freq-3)
	}
	ks.SetLFU(false, 10, 1)
	if ks.LFU() {
		t.Fatal("LFU still on")
	}
}

func TestObjectEncodings(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	cases := []struct {
		val, enc string
		shared   bool
	}{
		{"0", "int", true}, {"9999", "int", true}, {"10000", "int", false}, {"-1", "int", false},
		{"007", "embstr", false}, {"-0", "embstr", false}, {"hello", "embstr", false},
		{"9223372036854775808", "embstr", false},
		{string(make([]byte, 44)), "embstr", false}, {string(make([]byte, 45)), "raw", false},
	}
	for _, tc := range cases {
		db.SetString(b("k"), b(tc.val), false)
		info, ok := db.Object(b("k"))
		if !ok || info.Encoding != tc.enc || info.SharedInt != tc.shared {
			t.Errorf("%q: encoding %q shared %v, want %q %v", tc.val, info.Encoding, info.SharedInt, tc.enc, tc.shared)
		}
	}
	buf, _ := db.StringBuffer(b("k"), false)
	*buf = append(*buf, 'x')
	if info, _ := db.Object(b("k")); info.Encoding != "raw" {
		t.Errorf("appended string encoding %q, want raw", info.Encoding)
	}
	if _, ok := db.Object(b("missing")); ok {
		t.Error("Object of a missing key")
	}
}

func TestFreezeTimeGovernsExpiry(t *testing.T) {
	ks, _ := newTestKS(t)
	db := ks.DB(0)
	db.SetString(b("k"), b("v"), false)
	ks.FreezeTime()
	db.SetExpire(b("k"), ks.NowMs()+20)
	time.Sleep(40 * time.Millisecond)
	if !db.Exists(b("k")) {
		t.Fatal("key expired while the clock was frozen")
	}
	ks.UnfreezeTime()
	if db.Exists(b("k")) {
		t.Fatal("key did not expire after the clock was unfrozen")
	}
}
