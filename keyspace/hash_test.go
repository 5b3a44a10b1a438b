package keyspace

import (
	"strconv"
	"strings"
	"testing"
)

func TestHashSetGetDelete(t *testing.T) {
	h := NewHash()
	field := []byte("f")
	val := []byte("v1")
	if !h.Set(field, val) {
		t.Fatal("Set of a new field reported existing")
	}
	// The hash must have copied the caller's bytes.
	val[0] = 'X'
	field[0] = 'Y'
	if v, ok := h.Get([]byte("f")); !ok || string(v) != "v1" {
		t.Fatalf("Get = %q,%v after caller reused its buffers", v, ok)
	}
	old, _ := h.Get([]byte("f"))
	if h.Set([]byte("f"), []byte("v2")) {
		t.Fatal("Set of an existing field reported new")
	}
	// Values are immutable: a reader's old value is unchanged by Set.
	if string(old) != "v1" {
		t.Fatalf("old value changed to %q by Set", old)
	}
	if v, _ := h.GetString("f"); v != "v2" {
		t.Fatalf("GetString = %q", v)
	}
	if !h.Exists([]byte("f")) || h.Exists([]byte("g")) {
		t.Fatal("Exists wrong")
	}
	if h.SetString("g", "w") != true || h.Len() != 2 {
		t.Fatal("SetString of a new field")
	}
	if !h.Delete([]byte("f")) || h.Delete([]byte("f")) || h.Len() != 1 {
		t.Fatal("Delete wrong")
	}
	if _, ok := h.Get([]byte("f")); ok {
		t.Fatal("deleted field still readable")
	}
}

// TestHashEncoding checks the listpack -> hashtable conversion thresholds
// of Redis 7.0 (512 fields, 64-byte fields and values) and that, as in
// Redis, the conversion is never undone.
func TestHashEncoding(t *testing.T) {
	h := NewHash()
	for i := 0; i < 512; i++ {
		h.Set([]byte(strconv.Itoa(i)), []byte("v"))
	}
	if h.Encoding() != "listpack" || !h.Compact() {
		t.Fatalf("512 small fields: %s", h.Encoding())
	}
	h.Set([]byte("512"), []byte("v"))
	if h.Encoding() != "hashtable" || h.Compact() {
		t.Fatalf("513 fields: %s", h.Encoding())
	}
	for i := 0; i < 513; i++ {
		h.Delete([]byte(strconv.Itoa(i)))
	}
	h.Set([]byte("a"), []byte("b"))
	if h.Encoding() != "hashtable" {
		t.Fatal("encoding went back to listpack after deletes")
	}

	long := strings.Repeat("x", 65)
	for _, tc := range []struct{ f, v string }{{long, "v"}, {"f", long}} {
		h := NewHash()
		h.SetString("a", strings.Repeat("y", 64))
		if h.Encoding() != "listpack" {
			t.Fatal("64-byte value should stay listpack")
		}
		h.SetString(tc.f, tc.v)
		if h.Encoding() != "hashtable" {
			t.Fatalf("field %d bytes, value %d bytes: %s", len(tc.f), len(tc.v), h.Encoding())
		}
		if c := h.Clone(); c.Encoding() != "hashtable" {
			t.Fatal("Clone lost the encoding")
		}
	}
}

func TestHashClone(t *testing.T) {
	h := NewHash()
	h.SetString("a", "1")
	h.SetString("b", "2")
	c := h.Clone()
	c.SetString("a", "changed")
	c.Delete([]byte("b"))
	if v, _ := h.GetString("a"); v != "1" || h.Len() != 2 {
		t.Fatal("changing a clone changed the original")
	}
	if v, _ := c.GetString("a"); v != "changed" || c.Len() != 1 {
		t.Fatal("clone not updated")
	}
}

// TestHashRandomDistinct covers both sampling strategies (shuffle for a
// large share of the hash, rejection sampling for a small one) in both
// encodings: results are distinct, real fields with their own values, every
// field can come up, and the order is random, not the hash's own.
func TestHashRandomDistinct(t *testing.T) {
	for _, n := range []int{90, 900} {
		h := NewHash()
		for i := 0; i < n; i++ {
			h.SetString("f"+strconv.Itoa(i), "v"+strconv.Itoa(i))
		}
		if h.Compact() != (n <= 512) {
			t.Fatalf("%d fields: compact=%v", n, h.Compact())
		}
		for _, count := range []int{1, 5, n/3 - 1, n / 3, n/3 + 1, 2 * n / 3, n - 1, n, n + 100} {
			seen := map[string]bool{}
			// Bucket-first sampling is not uniform (a field in a long chain is
			// drawn less often), so draw enough that every field shows up.
			for round := 0; round < 50+100*n/count; round++ {
				fields, vals := h.RandomDistinct(count)
				want := min(count, n)
				if len(fields) != want || len(vals) != want {
					t.Fatalf("n %d count %d: got %d fields, %d values", n, count, len(fields), len(vals))
				}
				dup := map[string]bool{}
				for i, f := range fields {
					if dup[f] {
						t.Fatalf("n %d count %d: field %q twice", n, count, f)
					}
					dup[f] = true
					seen[f] = true
					if v, ok := h.GetString(f); !ok || v != vals[i] || "v"+f[1:] != v {
						t.Fatalf("n %d count %d: field %q paired with %q", n, count, f, vals[i])
					}
				}
			}
			if len(seen) != n {
				t.Errorf("n %d count %d: only %d fields ever drawn", n, count, len(seen))
			}
			if count > 1 && count < n {
				firsts := map[string]bool{}
				for round := 0; round < 50; round++ {
					fields, _ := h.RandomDistinct(count)
					firsts[fields[0]] = true
				}
				if len(firsts) < 5 {
					t.Errorf("n %d count %d: samples always start with one of %v", n, count, firsts)
				}
			}
		}
	}
}

// TestHashCompactOrder checks the listpack-like behaviour of small hashes:
// insertion order for Range and Scan, replacement in place, deletion that
// keeps the others' order, and conversion (with all data) when a limit is
// crossed.
func TestHashCompactOrder(t *testing.T) {
	h := NewHash()
	for _, f := range []string{"z", "a", "m", "b"} {
		h.SetString(f, "1")
	}
	h.Set([]byte("a"), []byte("2")) // replaced in place
	h.Delete([]byte("m"))           // order of the rest kept
	h.Set([]byte("c"), []byte("3")) // appended
	h.Delete([]byte("missing"))     // no-op
	order := func() string {
		var b strings.Builder
		h.Range(func(f, v string) bool {
			b.WriteString(f + "=" + v + " ")
			return true
		})
		return b.String()
	}
	if got := order(); got != "z=1 a=2 b=1 c=3 " {
		t.Fatalf("compact order: %q", got)
	}
	var scanned []string
	if c := h.Scan(0, func(f, v string) { scanned = append(scanned, f) }); c != 0 || strings.Join(scanned, ",") != "z,a,b,c" {
		t.Fatalf("compact scan: cursor %d, %v", c, scanned)
	}
	// Growing a value past 64 bytes converts, keeping every field.
	h.Set([]byte("a"), []byte(strings.Repeat("x", 65)))
	if h.Compact() || h.Len() != 4 {
		t.Fatalf("after a long value: compact=%v len=%d", h.Compact(), h.Len())
	}
	for f, want := range map[string]string{"z": "1", "a": strings.Repeat("x", 65), "b": "1", "c": "3"} {
		if v, ok := h.GetString(f); !ok || v != want {
			t.Fatalf("after conversion %q = %q,%v", f, v, ok)
		}
	}
	// Deleting everything from a compact hash leaves it empty and usable.
	s := NewHash()
	s.SetString("only", "x")
	if !s.Delete([]byte("only")) || s.Len() != 0 {
		t.Fatal("delete of the only field")
	}
	if _, _, ok := s.Random(); ok {
		t.Fatal("Random of an emptied hash found a field")
	}
	s.SetString("again", "y")
	if v, _ := s.GetString("again"); v != "y" {
		t.Fatal("emptied hash unusable")
	}
}

func TestHashScanAndRange(t *testing.T) {
	h := NewHash()
	for i := 0; i < 1000; i++ {
		h.SetString("f"+strconv.Itoa(i), strconv.Itoa(i))
	}
	got := map[string]string{}
	cursor := uint64(0)
	for {
		cursor = h.Scan(cursor, func(f, v string) { got[f] = v })
		if cursor == 0 {
			break
		}
	}
	if len(got) != 1000 {
		t.Fatalf("scan returned %d fields", len(got))
	}
	for f, v := range got {
		if "f"+v != f {
			t.Fatalf("scan paired %q with %q", f, v)
		}
	}
	n := 0
	h.Range(func(f, v string) bool { n++; return true })
	if n != 1000 {
		t.Fatalf("Range visited %d fields", n)
	}
	if f, v, ok := h.Random(); !ok || "f"+v != f {
		t.Fatalf("Random = %q,%q,%v", f, v, ok)
	}
	if _, _, ok := NewHash().Random(); ok {
		t.Fatal("Random of an empty hash found a field")
	}
}
