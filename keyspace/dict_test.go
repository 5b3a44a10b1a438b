package keyspace

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkDict verifies the dict's internal invariants: per-table counts match
// the chains, every entry sits in the bucket its hash selects, the old
// table is empty below the rehash index, and the second table exists only
// while rehashing.
func checkDict[V any](t *testing.T, d *Dict[V]) {
	t.Helper()
	if !d.rehashing() && d.tables[1] != nil {
		t.Fatal("second table present while not rehashing")
	}
	if d.rehashing() && d.tables[1] == nil {
		t.Fatal("rehashing without a second table")
	}
	for ti, tab := range d.tables {
		if len(tab)&(len(tab)-1) != 0 {
			t.Fatalf("table %d size %d is not a power of two", ti, len(tab))
		}
		n := 0
		for i, e := range tab {
			if ti == 0 && d.rehashing() && i < d.rehashIdx && e != nil {
				t.Fatalf("old table bucket %d below rehash index %d is not empty", i, d.rehashIdx)
			}
			for ; e != nil; e = e.next {
				n++
				if want := int(d.hash(e.key) & uint64(len(tab)-1)); want != i {
					t.Fatalf("key %q in bucket %d of table %d, belongs in %d", e.key, i, ti, want)
				}
			}
		}
		if n != d.used[ti] {
			t.Fatalf("table %d holds %d entries, used says %d", ti, n, d.used[ti])
		}
	}
}

func dk(i int) string { return "k" + strconv.Itoa(i) }

// TestDictAgainstMap runs random sets, upserts, deletes and pops against a
// Go map through many grow and shrink cycles, checking results and
// invariants as it goes.
func TestDictAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	d := NewDict[int]()
	m := map[string]int{}
	maxSize, resizes := 0, 0
	lastSize := 0
	for round := 0; round < 6; round++ {
		// Grow to a few thousand keys, then shrink to a handful.
		target := 500 + rng.IntN(4000)
		for phase := 0; phase < 2; phase++ {
			for step := 0; step < 20000; step++ {
				if phase == 0 && len(m) >= target || phase == 1 && len(m) <= 3 {
					break
				}
				k := dk(rng.IntN(target * 2))
				switch op := rng.IntN(10); {
				case op < 5 && phase == 0 || op < 2 && phase == 1:
					v := rng.Int()
					_, had := m[k]
					if created := d.Set(k, v); created == had {
						t.Fatalf("Set(%q) created=%v, map had=%v", k, created, had)
					}
					m[k] = v
				case op < 6 && phase == 0:
					p, created := d.Upsert(k)
					_, had := m[k]
					if created == had {
						t.Fatalf("Upsert(%q) created=%v, map had=%v", k, created, had)
					}
					*p += 3
					m[k] += 3
				case op < 8:
					v, ok := d.Pop(k)
					mv, had := m[k]
					if ok != had || v != mv {
						t.Fatalf("Pop(%q) = %d,%v; map %d,%v", k, v, ok, mv, had)
					}
					delete(m, k)
				default:
					v, ok := d.Get(k)
					mv, had := m[k]
					if ok != had || v != mv {
						t.Fatalf("Get(%q) = %d,%v; map %d,%v", k, v, ok, mv, had)
					}
				}
				if d.Len() != len(m) {
					t.Fatalf("Len = %d, map has %d", d.Len(), len(m))
				}
				if size := len(d.tables[0]); size != lastSize {
					resizes++
					lastSize = size
				}
				maxSize = max(maxSize, len(d.tables[0]), len(d.tables[1]))
				if step%997 == 0 {
					checkDict(t, d)
				}
			}
			checkDict(t, d)
			for k, v := range m {
				if got, ok := d.Get(k); !ok || got != v {
					t.Fatalf("Get(%q) = %d,%v after phase; want %d", k, got, ok, v)
				}
			}
			seen := 0
			d.Range(func(k string, v int) bool {
				if m[k] != v {
					t.Fatalf("Range gave %q=%d, map has %d", k, v, m[k])
				}
				seen++
				return true
			})
			if seen != len(m) {
				t.Fatalf("Range visited %d keys, want %d", seen, len(m))
			}
		}
	}
	if maxSize < 1024 || resizes < 10 {
		t.Fatalf("test did not exercise resizing: max table %d, %d resizes", maxSize, resizes)
	}
}

// TestDictShrinks checks that mass deletion gives the memory back: the
// table shrinks to fit the survivors once rehashing completes.
func TestDictShrinks(t *testing.T) {
	d := NewDict[int]()
	for i := 0; i < 100000; i++ {
		d.Set(dk(i), i)
	}
	for d.rehashing() {
		d.RehashFor(100)
	}
	if len(d.tables[0]) < 100000 {
		t.Fatalf("table of %d buckets for 100000 keys", len(d.tables[0]))
	}
	for i := 10; i < 100000; i++ {
		if !d.Delete(dk(i)) {
			t.Fatalf("Delete(%q) found nothing", dk(i))
		}
	}
	// The deletes overlap the shrink rehashes they start; the cron's
	// RehashFor finishes the job.
	for i := 0; i < 1000; i++ {
		d.RehashFor(100)
	}
	checkDict(t, d)
	if d.Len() != 10 || len(d.tables[0]) > 64 {
		t.Fatalf("after deleting all but 10 keys: len %d, table %d buckets", d.Len(), len(d.tables[0]))
	}
	for i := 0; i < 10; i++ {
		if v, ok := d.Get(dk(i)); !ok || v != i {
			t.Fatalf("survivor %q = %d,%v", dk(i), v, ok)
		}
	}
	// Emptying the dict completely and refilling it still works.
	for i := 0; i < 10; i++ {
		d.Delete(dk(i))
	}
	if d.Len() != 0 {
		t.Fatalf("Len = %d after deleting everything", d.Len())
	}
	if _, _, ok := d.RandomKey(); ok {
		t.Fatal("RandomKey on an empty dict reported a key")
	}
	if c := d.Scan(0, func(string, int) { t.Fatal("Scan of an empty dict visited a key") }); c != 0 {
		t.Fatalf("Scan of an empty dict returned cursor %d", c)
	}
	d.Set("again", 1)
	if v, ok := d.Get("again"); !ok || v != 1 {
		t.Fatal("dict unusable after being emptied")
	}
	checkDict(t, d)
}

// TestDictRefStable checks that a value pointer from Ref or Upsert stays
// valid while the table is rehashed underneath it.
func TestDictRefStable(t *testing.T) {
	d := NewDict[int]()
	p, created := d.Upsert("anchor")
	if !created {
		t.Fatal("Upsert of a new key reported existing")
	}
	*p = 42
	for i := 0; i < 5000; i++ {
		d.Set(dk(i), i)
	}
	*p++
	if v, _ := d.Get("anchor"); v != 43 {
		t.Fatalf("anchor = %d through a pointer taken before 5000 inserts, want 43", v)
	}
	if d.Ref("missing") != nil {
		t.Fatal("Ref of a missing key is not nil")
	}
	d.Clear()
	if d.Len() != 0 || d.Ref("anchor") != nil {
		t.Fatal("Clear left keys behind")
	}
}

// TestDictRangeStops checks that Range honours an early false.
func TestDictRangeStops(t *testing.T) {
	d := NewDict[int]()
	for i := 0; i < 100; i++ {
		d.Set(dk(i), i)
	}
	n := 0
	d.Range(func(string, int) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Range called fn %d times after it returned false at 5", n)
	}
}

// TestDictRandomKeyCoverage checks that RandomKey only returns present keys
// and, given enough draws, every one of them.
func TestDictRandomKeyCoverage(t *testing.T) {
	for _, n := range []int{1, 2, 7, 300} {
		d := NewDict[int]()
		for i := 0; i < n; i++ {
			d.Set(dk(i), i)
		}
		seen := map[string]int{}
		for i := 0; i < n*200; i++ {
			k, v, ok := d.RandomKey()
			if !ok {
				t.Fatal("RandomKey found nothing in a non-empty dict")
			}
			if k != dk(v) {
				t.Fatalf("RandomKey returned %q with value %d", k, v)
			}
			seen[k]++
		}
		if len(seen) != n {
			t.Errorf("n=%d: only %d distinct keys in %d draws", n, len(seen), n*200)
		}
	}
}

// TestDictRandomKeyMidRehash checks that while a rehash is in progress
// RandomKey draws from both tables (keys already moved and keys not yet
// moved), and only returns keys that exist.
func TestDictRandomKeyMidRehash(t *testing.T) {
	d := NewDict[int]()
	for i := 0; !d.rehashing() || d.Len() < 50000; i++ {
		d.Set(dk(i), i)
		if d.rehashing() && d.Len() < 50000 {
			for d.rehashing() {
				d.RehashFor(1000)
			}
		}
	}
	var fromOld, fromNew int
	for i := 0; i < 3000 && d.rehashing(); i++ {
		k, v, ok := d.RandomKey()
		if !ok || k != dk(v) {
			t.Fatalf("RandomKey = %q,%d,%v", k, v, ok)
		}
		if !d.rehashing() {
			break
		}
		h := d.hash(k)
		inOld := false
		if idx := int(h & uint64(len(d.tables[0])-1)); idx >= d.rehashIdx {
			for e := d.tables[0][idx]; e != nil; e = e.next {
				inOld = inOld || e.key == k
			}
		}
		if inOld {
			fromOld++
		} else {
			fromNew++
		}
	}
	if fromOld == 0 || fromNew == 0 {
		t.Fatalf("draws mid-rehash: %d from the old table, %d from the new one", fromOld, fromNew)
	}
}

// scanAll runs a complete SCAN, calling between after every step so the
// caller can change the dict, and returns how often each key was emitted.
func scanAll(d *Dict[int], between func()) map[string]int {
	got := map[string]int{}
	cursor := uint64(0)
	for steps := 0; ; steps++ {
		cursor = d.Scan(cursor, func(k string, _ int) { got[k]++ })
		if cursor == 0 || steps > 1<<22 {
			return got
		}
		between()
	}
}

// TestDictScanStable checks that SCAN over an unchanging table returns
// every key exactly once.
func TestDictScanStable(t *testing.T) {
	for _, n := range []int{1, 3, 4, 5, 100, 4097} {
		d := NewDict[int]()
		for i := 0; i < n; i++ {
			d.Set(dk(i), i)
		}
		for d.rehashing() {
			d.RehashFor(100)
		}
		got := scanAll(d, func() {})
		if len(got) != n {
			t.Fatalf("n=%d: scan returned %d distinct keys", n, len(got))
		}
		for k, c := range got {
			if c != 1 {
				t.Fatalf("n=%d: key %q returned %d times by a scan of a stable table", n, k, c)
			}
		}
	}
}

// TestDictScanGuarantee is SCAN's contract: every key present for the whole
// iteration is returned at least once, even while the table grows, shrinks
// and is caught mid-rehash between SCAN calls.
func TestDictScanGuarantee(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for trial := 0; trial < 12; trial++ {
		d := NewDict[int]()
		const stable = 100
		for i := 0; i < stable; i++ {
			d.Set("s"+strconv.Itoa(i), i)
		}
		// Churn keys come and go; each trial picks a pattern of growth and
		// shrinkage that forces several resizes during one scan.
		churn := 0
		live := map[int]bool{}
		grow := trial%2 == 0
		resizes, lastSize, midRehash := 0, len(d.tables[0]), 0
		between := func() {
			n := 1 + rng.IntN(100)
			if grow {
				for i := 0; i < n; i++ {
					d.Set("c"+strconv.Itoa(churn), churn)
					live[churn] = true
					churn++
				}
			} else {
				for k := range live {
					if n == 0 {
						break
					}
					d.Delete("c" + strconv.Itoa(k))
					delete(live, k)
					n--
				}
			}
			if len(live) > 3000 {
				grow = false
			} else if len(live) == 0 {
				grow = true
			}
			if d.rehashing() {
				midRehash++
			}
			if len(d.tables[0]) != lastSize {
				resizes++
				lastSize = len(d.tables[0])
			}
		}
		got := scanAll(d, between)
		for i := 0; i < stable; i++ {
			if got["s"+strconv.Itoa(i)] == 0 {
				t.Fatalf("trial %d: stable key s%d was never returned (%d resizes, %d steps mid-rehash)", trial, i, resizes, midRehash)
			}
		}
		for k := range got {
			if _, err := strconv.Atoi(k[1:]); err != nil {
				t.Fatalf("trial %d: scan returned unknown key %q", trial, k)
			}
		}
		if trial == 0 && (resizes < 3 || midRehash == 0) {
			t.Fatalf("scan did not see the table change: %d resizes, %d steps mid-rehash", resizes, midRehash)
		}
		checkDict(t, d)
	}
}

// TestDictScanShrinkMidScan targets the hardest case directly: the table
// shrinks from large to small (with the rehash in progress) between two
// steps of one scan.
func TestDictScanShrinkMidScan(t *testing.T) {
	for trial := 0; trial < 20; trial++ {
		d := NewDict[int]()
		for i := 0; i < 50; i++ {
			d.Set("s"+strconv.Itoa(i), i)
		}
		for i := 0; i < 20000; i++ {
			d.Set(dk(i), i)
		}
		for d.rehashing() {
			d.RehashFor(100)
		}
		got := map[string]int{}
		cursor := uint64(0)
		steps := 0
		shrunk := false
		for {
			cursor = d.Scan(cursor, func(k string, _ int) { got[k]++ })
			if cursor == 0 {
				break
			}
			steps++
			if steps == 100+trial*37 && !shrunk {
				for i := 0; i < 20000; i++ {
					d.Delete(dk(i))
				}
				shrunk = true
			}
		}
		if !shrunk {
			t.Fatalf("trial %d: scan finished in %d steps before the shrink", trial, steps)
		}
		for i := 0; i < 50; i++ {
			if got["s"+strconv.Itoa(i)] == 0 {
				t.Fatalf("trial %d: key s%d lost when the table shrank mid-scan", trial, i)
			}
		}
	}
}
