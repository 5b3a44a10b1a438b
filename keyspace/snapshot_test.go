package keyspace

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// snapValue is a deep copy of a key's state, the model a snapshot must
// reproduce.
type snapValue struct {
	str    string
	fields map[string]string // nil for a string
	expire int64
}

func modelOf(ks *Keyspace) map[string]snapValue {
	m := map[string]snapValue{}
	for i := 0; i < ks.NumDBs(); i++ {
		db := ks.DB(i)
		db.dict.Range(func(k string, ob object) bool {
			v := snapValue{expire: -1}
			if when, ok := db.expires.Get(k); ok {
				v.expire = when
			}
			switch o := ob.o.(type) {
			case nil:
				v.str = ob.s
			case *strBuf:
				v.str = string(o.b)
			case *Hash:
				v.fields = map[string]string{}
				o.Range(func(f, val string) bool {
					v.fields[f] = val
					return true
				})
			}
			m[strconv.Itoa(i)+"/"+k] = v
			return true
		})
	}
	return m
}

func itemModel(t *testing.T, items []Item) map[string]snapValue {
	t.Helper()
	m := map[string]snapValue{}
	for _, it := range items {
		name := strconv.Itoa(it.DB) + "/" + it.Key
		if _, dup := m[name]; dup {
			t.Fatalf("snapshot returned %s twice", name)
		}
		v := snapValue{str: it.Str, expire: it.ExpireMs}
		if it.Hash != nil {
			v.fields = map[string]string{}
			it.Hash.Range(func(f, val string) bool {
				v.fields[f] = val
				return true
			})
		}
		m[name] = v
	}
	return m
}

func sameModels(t *testing.T, want, got map[string]snapValue) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("snapshot has %d keys, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("snapshot lacks %s", k)
		}
		if w.str != g.str || w.expire != g.expire || (w.fields == nil) != (g.fields == nil) || len(w.fields) != len(g.fields) {
			t.Fatalf("%s: snapshot %+v, want %+v", k, g, w)
		}
		for f, v := range w.fields {
			if g.fields[f] != v {
				t.Fatalf("%s field %s: snapshot %q, want %q", k, f, g.fields[f], v)
			}
		}
	}
}

// TestSnapshotIsPointInTime runs random writes of every kind between the
// walker's steps and checks that the snapshot holds exactly the keyspace as
// it was when it began, each key once, while the live keyspace moved on.
func TestSnapshotIsPointInTime(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			ks := New(4, nil)
			key := func() []byte { return []byte("k" + strconv.Itoa(r.IntN(300))) }
			write := func() {
				db := ks.DB(r.IntN(4))
				k := key()
				switch r.IntN(14) {
				case 0, 1:
					db.SetString(k, []byte(strconv.Itoa(r.IntN(1000))), r.IntN(2) == 0)
				case 2:
					if buf, err := db.StringBuffer(k, true); err == nil {
						*buf = append(*buf, "x"...)
						db.Modified(k)
					}
				case 3, 4:
					if h, err := db.HashForWrite(k, true); err == nil {
						for i := r.IntN(40); i >= 0; i-- {
							h.Set([]byte("f"+strconv.Itoa(r.IntN(600))), []byte(strconv.Itoa(r.IntN(1e6))))
						}
						db.Modified(k)
					}
				case 5:
					if h, err := db.HashForWrite(k, false); err == nil && h != nil {
						h.Delete([]byte("f" + strconv.Itoa(r.IntN(600))))
						db.DeleteIfEmpty(k)
					}
				case 6:
					db.Delete(k)
				case 7:
					db.SetExpire(k, ks.NowMs()+int64(1000+r.IntN(1e6)))
				case 8:
					db.Persist(k)
				case 9:
					if dst := key(); string(dst) != string(k) {
						db.Rename(k, dst, r.IntN(2) == 0)
					}
				case 10:
					db.MoveTo(k, ks.DB(r.IntN(4)))
				case 11:
					dst := ks.DB(r.IntN(4))
					if k2 := key(); dst != db || string(k2) != string(k) {
						db.CopyTo(k, dst, k2, r.IntN(2) == 0)
					}
				case 12:
					if r.IntN(20) == 0 {
						db.Flush()
					}
				case 13:
					if r.IntN(20) == 0 {
						ks.SwapDB(r.IntN(4), r.IntN(4))
					}
				}
			}
			for i := 0; i < 3000; i++ {
				write()
			}
			want := modelOf(ks)
			snap, err := ks.BeginSnapshot()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ks.BeginSnapshot(); err == nil {
				t.Fatal("a second snapshot started while one runs")
			}
			var items []Item
			for done := false; !done; {
				items, done = snap.Next(items)
				for i := r.IntN(30); i > 0; i-- {
					write()
				}
			}
			// Writes after the walk are no longer intercepted, but the
			// returned values must stay intact until Release.
			for i := 0; i < 500; i++ {
				write()
			}
			sameModels(t, want, itemModel(t, items))
			snap.Release()
			if ks.snapshotting.Load() {
				t.Fatal("snapshot still active after Release")
			}
			// The next snapshot starts clean and sees the present.
			want = modelOf(ks)
			snap, err = ks.BeginSnapshot()
			if err != nil {
				t.Fatal(err)
			}
			items = items[:0]
			for done := false; !done; {
				items, done = snap.Next(items)
			}
			sameModels(t, want, itemModel(t, items))
			snap.Release()
		})
	}
}

// TestSnapshotFrozenHashCopiedOnWrite: a hash the snapshot holds is not
// changed by later writes, which go to a copy; after Release writes are in
// place again.
func TestSnapshotFrozenHashCopiedOnWrite(t *testing.T) {
	ks := New(1, nil)
	db := ks.DB(0)
	h, _ := db.HashForWrite(b("h"), true)
	for i := 0; i < 1000; i++ {
		h.Set(b(strconv.Itoa(i)), b("v"))
	}
	snap, _ := ks.BeginSnapshot()
	var items []Item
	items, _ = snap.Next(items)
	for done := false; !done; {
		items, done = snap.Next(items)
	}
	if len(items) != 1 || items[0].Hash != h {
		t.Fatalf("items = %+v", items)
	}
	h2, _ := db.HashForWrite(b("h"), false)
	if h2 == h {
		t.Fatal("write to a frozen hash did not copy it")
	}
	h2.Set(b("0"), b("changed"))
	h2.Delete(b("1"))
	if v, _ := h.GetString("0"); v != "v" || h.Len() != 1000 {
		t.Fatal("the frozen hash changed")
	}
	if !db.SnapshotActive() {
		t.Fatal("SnapshotActive false before Release")
	}
	snap.Release()
	if db.SnapshotActive() {
		t.Fatal("SnapshotActive after Release")
	}
	h3, _ := db.HashForWrite(b("h"), false)
	if h3 != h2 {
		t.Fatal("a write after Release copied again")
	}
}

func BenchmarkSnapshotWalk(b *testing.B) {
	ks := New(1, nil)
	db := ks.DB(0)
	for i := 0; i < 1_000_000; i++ {
		db.SetString([]byte("key:"+strconv.Itoa(i)), []byte("value"), false)
	}
	b.ResetTimer()
	var items []Item
	for i := 0; i < b.N; i++ {
		snap, _ := ks.BeginSnapshot()
		for done := false; !done; {
			items, done = snap.Next(items[:0])
		}
		snap.Release()
	}
}
