package rdb

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fuzzMaxInput and fuzzMaxEntries bound the work per input: the Reader's
// own limits keep memory proportional to the input, and these keep each
// execution short.
const (
	fuzzMaxInput   = 1 << 20
	fuzzMaxEntries = 100000
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic,
// hang or read past its input, and anything it decodes completely must
// survive a Writer round trip unchanged.
func FuzzReader(f *testing.F) {
	// The small Redis fixture has one key per encoding redis 7.0 writes.
	// The large ones are left out: when a mutation of a 50-100 KB input
	// finds new coverage, the fuzzer spends its whole minimization budget
	// (60 s) shrinking it, and the short `make fuzz` runs would mostly wait.
	files, _ := filepath.Glob("testdata/*.rdb")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 4096 {
			f.Add(data)
		}
	}
	legacy, _ := legacyDataset(true, true)
	f.Add(legacy)
	small := dataset{}
	small.put(0, "s", strVal("value", future))
	small.put(0, "n", strVal("-300", -1))
	small.put(0, "c", strVal("abcabcabcabcabcabcabcabcabc", -1))
	small.put(0, "h", hashVal(-1, "f", "v", "1", "2"))
	small.put(1, "l", listVal(-1, "a", "b", "3"))
	small.put(1, "set", setVal(-1, "x", "5"))
	small.put(2, "z", zsetVal(5, map[string]float64{"m": 1.5, "n": math.Inf(-1)}))
	for _, opts := range []WriterOptions{{}, {Compress: true, Checksum: true}} {
		f.Add(encodeDataset(f, small, opts))
	}
	f.Add([]byte("REDIS0010\xff\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("REDIS0003\xfe\x00\x00\x01a\x01b\xff"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			return
		}
		r, err := NewReader(bytes.NewReader(data), ReaderOptions{VerifyChecksum: len(data)%2 == 0})
		if err != nil {
			return
		}
		var entries []*Entry
		complete := false
		for range fuzzMaxEntries {
			e, err := r.Next()
			if err == io.EOF {
				complete = true
				break
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					t.Fatalf("an incomplete stream reports a wrapped io.EOF: %v", err)
				}
				if _, again := r.Next(); again != err {
					t.Fatalf("error is not sticky: %v then %v", err, again)
				}
				break
			}
			entries = append(entries, e)
		}
		if r.Offset() > int64(len(data)) {
			t.Fatalf("offset %d past the %d-byte input", r.Offset(), len(data))
		}
		if complete {
			checkRewrite(t, entries)
		}
	})
}

// checkRewrite writes entries with a Writer and checks that they decode
// back the same.
func checkRewrite(t *testing.T, entries []*Entry) {
	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{Compress: true, Checksum: true})
	var aux []Aux
	var keys []*Entry
	for _, e := range entries {
		switch e.Kind {
		case EntryAux:
			aux = append(aux, Aux{e.AuxKey, e.AuxValue})
		case EntryKey:
			keys = append(keys, e)
		}
	}
	if err := w.Header(aux); err != nil {
		t.Fatal(err)
	}
	db := -1
	for _, e := range keys {
		if e.DB != db {
			db = e.DB
			if err := w.SelectDB(db, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		switch e.Type {
		case TypeString:
			err = w.String(e.Key, e.Str, e.ExpireMs)
		case TypeHash:
			err = w.Hash(e.Key, len(e.Hash), func(yield func(string, string) bool) {
				for _, p := range e.Hash {
					if !yield(p.Field, p.Value) {
						return
					}
				}
			}, e.ExpireMs)
		case TypeList:
			err = w.List(e.Key, len(e.List), slices.Values(e.List), e.ExpireMs)
		case TypeSet:
			err = w.Set(e.Key, len(e.Set), slices.Values(e.Set), e.ExpireMs)
		case TypeZSet:
			err = w.ZSet(e.Key, len(e.ZSet), func(yield func(string, float64) bool) {
				for _, m := range e.ZSet {
					if !yield(m.Member, m.Score) {
						return
					}
				}
			}, e.ExpireMs)
		default:
			t.Fatalf("key %q: unknown type %v", e.Key, e.Type)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&buf, ReaderOptions{VerifyChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	i, k := 0, 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("re-encoded stream: %v", err)
		}
		switch e.Kind {
		case EntryAux:
			if i >= len(aux) || aux[i] != (Aux{e.AuxKey, e.AuxValue}) {
				t.Fatalf("aux %d: %q=%q", i, e.AuxKey, e.AuxValue)
			}
			i++
		case EntryKey:
			if k >= len(keys) || !sameKey(keys[k], e) {
				t.Fatalf("key %d differs after a rewrite: %+v", k, e)
			}
			k++
		}
	}
	if i != len(aux) || k != len(keys) {
		t.Fatalf("rewrite lost entries: %d/%d aux, %d/%d keys", i, len(aux), k, len(keys))
	}
}

func sameKey(a, b *Entry) bool {
	if a.Key != b.Key || a.DB != b.DB || a.ExpireMs != b.ExpireMs || a.Type != b.Type ||
		a.Str != b.Str || !slices.Equal(a.Hash, b.Hash) || !slices.Equal(a.List, b.List) ||
		!slices.Equal(a.Set, b.Set) || len(a.ZSet) != len(b.ZSet) {
		return false
	}
	for i := range a.ZSet {
		if a.ZSet[i].Member != b.ZSet[i].Member || math.Float64bits(a.ZSet[i].Score) != math.Float64bits(b.ZSet[i].Score) {
			return false
		}
	}
	return true
}
