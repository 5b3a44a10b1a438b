package aof

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleUnits is a stream of units, the last one a MULTI block.
func sampleUnits() [][]byte {
	return [][]byte{
		enc("SELECT", "0"),
		enc("SET", "k", "v"),
		[]byte("#TS:1700000000\r\n"), // annotation, not a unit
		enc("HSET", "_sql:redis_db", "0", "page\x00\r\nbinary"),
		encUnit([]string{"MULTI"}, []string{"SET", "a", "1"}, []string{"INCR", "a"}, []string{"EXEC"}),
		enc("DEL", "k"),
		encUnit([]string{"multi"}, []string{"HSET", "h", "f", ""}, []string{"exec"}),
	}
}

const sampleWant = "SELECT 0|SET k v|HSET _sql:redis_db 0 page\x00\r\nbinary|MULTI;SET a 1;INCR a;EXEC|DEL k|multi;HSET h f ;exec"

func TestAppendLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := mustOpen(t, testConfig(dir))
	if m.Exists() {
		t.Fatal("Exists on an empty dir")
	}
	units, info, err := loadAll(m)
	if err != nil || len(units) != 0 || len(info.Files) != 0 {
		t.Fatalf("load of nothing: %v %v %+v", units, err, info)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	var off uint64
	for _, u := range sampleUnits() {
		off = m.Append(u)
	}
	if err := m.WaitSynced(off); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	ad := filepath.Join(dir, DefaultDirName)
	if got := string(readFile(t, filepath.Join(ad, DefaultFileName+".manifest"))); got != simpleManifest {
		t.Fatalf("manifest %q", got)
	}
	if got := readFile(t, filepath.Join(ad, incr1)); !bytes.Equal(got, bytes.Join(sampleUnits(), nil)) {
		t.Fatalf("incr file %q", got)
	}

	m2 := mustOpen(t, testConfig(dir))
	if !m2.Exists() {
		t.Fatal("Exists false after Start")
	}
	units, info, err = loadAll(m2)
	if err != nil {
		t.Fatal(err)
	}
	if got := unitsString(units); got != sampleWant {
		t.Fatalf("units:\n%q\nwant\n%q", got, sampleWant)
	}
	if info.Units != 6 || info.Commands != 11 || len(info.Files) != 2 || info.Truncated ||
		info.Bytes != int64(len(bytes.Join(sampleUnits(), nil))) || info.Files[1].Units != 6 {
		t.Fatalf("info %+v", info)
	}
	// Appends continue the same file after a restart, as in Redis.
	if err := m2.Start(); err != nil {
		t.Fatal(err)
	}
	m2.Append(enc("SET", "after", "restart"))
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	units, _, err = loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != sampleWant+"|SET after restart" {
		t.Fatalf("after restart: %q %v", unitsString(units), err)
	}
}

// Cutting the file at every byte offset: whole units load, the tail is
// truncated with LoadTruncated and refused without it.
func TestLoadTruncatedEveryOffset(t *testing.T) {
	units := sampleUnits()
	full := bytes.Join(units, nil)
	// ends[i]: offset where the i-th real unit ends; annotation lines are
	// not units and don't move the truncation point.
	var ends []int
	var names []string
	pos := 0
	for _, u := range units {
		pos += len(u)
		if u[0] == '#' {
			continue
		}
		ends = append(ends, pos)
	}
	names = strings.Split(sampleWant, "|")
	for cut := 0; cut <= len(full); cut++ {
		whole, validUpTo := 0, 0
		for i, e := range ends {
			if e <= cut {
				whole, validUpTo = i+1, e
			}
		}
		// A complete annotation right after the last unit is kept as is.
		complete := validUpTo == cut || (cut == ends[1]+len(units[2]) && whole == 2)
		for _, truncOK := range []bool{false, true} {
			dir := t.TempDir()
			ad := writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil, incr1: full[:cut]})
			cfg := testConfig(dir)
			cfg.LoadTruncated = truncOK
			got, info, err := loadAll(mustOpen(t, cfg))
			if complete {
				if err != nil || len(got) != whole || info.Truncated {
					t.Fatalf("cut %d (clean): %d units, %v, %+v", cut, len(got), err, info)
				}
				continue
			}
			if !truncOK {
				var le *LoadError
				if !errors.As(err, &le) || !errors.Is(err, ErrTruncated) || le.File != incr1 || le.Offset != int64(validUpTo) {
					t.Fatalf("cut %d: want a truncation error at %d, got %v", cut, validUpTo, err)
				}
				if !strings.Contains(err.Error(), "Unexpected end of file reading the append only file "+incr1) ||
					!strings.Contains(err.Error(), "aof-load-truncated") {
					t.Fatalf("cut %d: message %q", cut, err)
				}
				if n := len(readFile(t, filepath.Join(ad, incr1))); n != cut {
					t.Fatalf("cut %d: refused load changed the file to %d bytes", cut, n)
				}
				continue
			}
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			if gs := unitsString(got); gs != strings.Join(names[:whole], "|") {
				t.Fatalf("cut %d: units %q", cut, gs)
			}
			if !info.Truncated || info.TruncatedFile != incr1 || info.TruncatedAt != int64(validUpTo) ||
				info.TruncatedBytes != int64(cut-validUpTo) {
				t.Fatalf("cut %d: info %+v", cut, info)
			}
			wantMulti := cut > validUpTo && bytes.HasPrefix(bytes.ToUpper(full[validUpTo:cut]), []byte("*1\r\n$5\r\nMULTI\r\n"))
			if info.RevertedMulti != wantMulti {
				t.Fatalf("cut %d: RevertedMulti %v", cut, info.RevertedMulti)
			}
			if b := readFile(t, filepath.Join(ad, incr1)); !bytes.Equal(b, full[:validUpTo]) {
				t.Fatalf("cut %d: file not truncated to %d: %d bytes", cut, validUpTo, len(b))
			}
		}
	}
}

// After a truncating load, appends continue cleanly.
func TestLoadTruncatedThenAppend(t *testing.T) {
	dir := t.TempDir()
	full := bytes.Join(sampleUnits(), nil)
	writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil, incr1: full[:len(full)-3]})
	cfg := testConfig(dir)
	cfg.LoadTruncated = true
	m := mustOpen(t, cfg)
	if _, _, err := loadAll(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "x", "y"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	units, _, err := loadAll(mustOpen(t, testConfig(dir)))
	want := strings.TrimSuffix(sampleWant, "|multi;HSET h f ;exec") + "|SET x y"
	if err != nil || unitsString(units) != want {
		t.Fatalf("%q %v", unitsString(units), err)
	}
}

func TestLoadIncompleteMultiNotApplied(t *testing.T) {
	data := encUnit([]string{"SET", "a", "1"}, []string{"MULTI"}, []string{"SET", "b", "2"}, []string{"SET", "c", "3"})
	for _, truncOK := range []bool{false, true} {
		dir := t.TempDir()
		ad := writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil, incr1: data})
		cfg := testConfig(dir)
		cfg.LoadTruncated = truncOK
		units, info, err := loadAll(mustOpen(t, cfg))
		if unitsString(units) != "SET a 1" {
			t.Fatalf("applied %q", unitsString(units))
		}
		if !truncOK {
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "incomplete MULTI/EXEC block") {
				t.Fatalf("err %v", err)
			}
			continue
		}
		if err != nil || !info.RevertedMulti || info.TruncatedAt != int64(len(enc("SET", "a", "1"))) {
			t.Fatalf("%v %+v", err, info)
		}
		if got := readFile(t, filepath.Join(ad, incr1)); !bytes.Equal(got, enc("SET", "a", "1")) {
			t.Fatalf("file %q", got)
		}
	}
}

func TestLoadCorruptMiddle(t *testing.T) {
	first := enc("SET", "key", "value") // *3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n
	rest := bytes.Join(sampleUnits(), nil)
	cases := []struct {
		pos    int
		b      byte
		off    int
		reason string
	}{
		{0, '+', 0, "expected '*' at the start of a command"},
		{1, '0', 0, "invalid argument count 0"},
		{1, 'x', 1, "invalid argument count"},
		{2, 'x', 0, "not terminated by CRLF"},
		{4, '*', 4, "expected '$' at the start of an argument"},
		{5, '4', 12, "argument not followed by CRLF"},  // reads "SET\r", then "\n$"
		{5, '2', 10, "argument not followed by CRLF"},  // reads "SE"
		{5, '9', 17, "argument not followed by CRLF"},  // swallows "SET\r\n$3\r\n", then "ke"
		{11, 'X', 11, "argument not followed by CRLF"}, // the CR after SET
		{1, '4', 33, "expected '$' at the start of an argument"},
	}
	for _, c := range cases {
		data := append(bytes.Clone(first), rest...)
		data[c.pos] = c.b
		for _, truncOK := range []bool{false, true} {
			dir := t.TempDir()
			writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil, incr1: data})
			cfg := testConfig(dir)
			cfg.LoadTruncated = truncOK
			_, _, err := loadAll(mustOpen(t, cfg))
			var le *LoadError
			if !errors.As(err, &le) || !errors.Is(err, ErrBadFormat) {
				t.Fatalf("byte %d=%q: want a format error, got %v", c.pos, c.b, err)
			}
			want := fmt.Sprintf("Bad file format reading the append only file %s at offset %d: ", incr1, c.off)
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("byte %d=%q: message %q, want prefix %q and %q", c.pos, c.b, err, want, c.reason)
			}
		}
	}
}

func TestLoadMultiErrors(t *testing.T) {
	cases := map[string][]byte{
		"MULTI calls can not be nested": encUnit([]string{"MULTI"}, []string{"MULTI"}, []string{"EXEC"}),
		"EXEC without MULTI":            encUnit([]string{"SET", "a", "b"}, []string{"EXEC"}, []string{"SET", "a", "b"}),
		"DISCARD without MULTI":         encUnit([]string{"DISCARD"}, []string{"SET", "a", "b"}),
	}
	for want, data := range cases {
		dir := t.TempDir()
		writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil, incr1: data})
		if _, _, err := loadAll(mustOpen(t, testConfig(dir))); !errors.Is(err, ErrBadFormat) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v", want, err)
		}
	}
	// A discarded block is dropped.
	dir := t.TempDir()
	writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil,
		incr1: encUnit([]string{"MULTI"}, []string{"SET", "a", "b"}, []string{"DISCARD"}, []string{"SET", "c", "d"})})
	units, _, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != "SET c d" {
		t.Fatalf("%q %v", unitsString(units), err)
	}
}

// A truncated file that is not the last one is refused even with
// LoadTruncated, as in Redis.
func TestLoadTruncatedNotLastFile(t *testing.T) {
	dir := t.TempDir()
	man := simpleManifest + "file appendonly.aof.2.incr.aof seq 2 type i\n"
	good := enc("SET", "a", "1")
	writeAOF(t, dir, man, map[string][]byte{baseAOF: nil, incr1: append(bytes.Clone(good), enc("SET", "b", "2")[:7]...),
		incr2: enc("SET", "c", "3")})
	cfg := testConfig(dir)
	cfg.LoadTruncated = true
	_, _, err := loadAll(mustOpen(t, cfg))
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, ErrTruncated) || le.File != incr1 || le.Offset != int64(len(good)) ||
		!strings.Contains(err.Error(), "not the last file") {
		t.Fatalf("%v", err)
	}
	// Same with the base truncated.
	dir = t.TempDir()
	writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: good[:5], incr1: good})
	cfg.Dir = dir
	if _, _, err = loadAll(mustOpen(t, cfg)); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), baseAOF) {
		t.Fatalf("%v", err)
	}
}

func TestLoadFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	man := "file appendonly.aof.3.base.aof seq 3 type b\n" +
		"file appendonly.aof.1.incr.aof seq 1 type h\n" +
		"file appendonly.aof.4.incr.aof seq 4 type i\n" +
		"file appendonly.aof.7.incr.aof seq 7 type i\n"
	writeAOF(t, dir, man, map[string][]byte{
		"appendonly.aof.3.base.aof": enc("SET", "base", "1"),
		"appendonly.aof.1.incr.aof": enc("SET", "history", "never loaded"),
		"appendonly.aof.4.incr.aof": nil, // empty files are fine
		"appendonly.aof.7.incr.aof": enc("SET", "incr", "7"),
	})
	units, info, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != "SET base 1|SET incr 7" || len(info.Files) != 3 || !info.Files[0].Base {
		t.Fatalf("%q %v %+v", unitsString(units), err, info)
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil})
	applied := 0
	_, err := mustOpen(t, testConfig(dir)).Load(nil, func([][][]byte) error { applied++; return nil })
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), incr1) || applied != 0 {
		t.Fatalf("%v", err)
	}
}

func TestLoadApplyError(t *testing.T) {
	dir := t.TempDir()
	data := encUnit([]string{"SET", "a", "1"}, []string{"BOGUS", "x"}, []string{"SET", "b", "2"})
	writeAOF(t, dir, simpleManifest, map[string][]byte{baseAOF: nil, incr1: data})
	boom := errors.New("ERR unknown command 'BOGUS'")
	_, err := mustOpen(t, testConfig(dir)).Load(nil, func(cmds [][][]byte) error {
		if string(cmds[0][0]) == "BOGUS" {
			return boom
		}
		return nil
	})
	var le *LoadError
	if !errors.Is(err, boom) || !errors.As(err, &le) || le.File != incr1 || le.Offset != int64(len(enc("SET", "a", "1"))) {
		t.Fatalf("%v", err)
	}
}

// fakeRDB is an "RDB" whose reader knows its length, to test that commands
// after an RDB preamble are loaded.
var fakeRDB = []byte("REDIS0010-fake-rdb-body\xff12345678")

func TestLoadRDBBaseWithTail(t *testing.T) {
	dir := t.TempDir()
	base := append(bytes.Clone(fakeRDB), enc("SET", "tail", "1")...)
	writeAOF(t, dir, "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
		map[string][]byte{"appendonly.aof.1.base.rdb": base, incr1: enc("SET", "incr", "1")})
	var got []string
	info, err := mustOpen(t, testConfig(dir)).Load(func(r io.Reader) error {
		b := make([]byte, len(fakeRDB))
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		if !bytes.Equal(b, fakeRDB) {
			return fmt.Errorf("rdb bytes %q", b)
		}
		if _, ok := r.(io.ByteReader); !ok {
			return errors.New("not a ByteReader")
		}
		got = append(got, "RDB")
		return nil
	}, func(cmds [][][]byte) error {
		got = append(got, string(bytes.Join(cmds[0], []byte(" "))))
		return nil
	})
	if err != nil || strings.Join(got, "|") != "RDB|SET tail 1|SET incr 1" || !info.Files[0].RDB {
		t.Fatalf("%q %v %+v", got, err, info)
	}
	// Without an RDB loader, or with a failing one: refused.
	if _, err := mustOpen(t, testConfig(dir)).Load(nil, func([][][]byte) error { return nil }); !errors.Is(err, ErrBadFormat) {
		t.Fatalf("nil baseRDB: %v", err)
	}
	bad := errors.New("bad rdb")
	if _, err := mustOpen(t, testConfig(dir)).Load(func(io.Reader) error { return bad },
		func([][][]byte) error { return nil }); !errors.Is(err, bad) || !strings.Contains(err.Error(), "appendonly.aof.1.base.rdb") {
		t.Fatalf("failing baseRDB: %v", err)
	}
}

func TestLegacyUpgrade(t *testing.T) {
	dir := t.TempDir()
	legacy := encUnit([]string{"SELECT", "0"}, []string{"SET", "old", "style"})
	if err := os.WriteFile(filepath.Join(dir, DefaultFileName), legacy, 0o644); err != nil {
		t.Fatal(err)
	}
	m := mustOpen(t, testConfig(dir))
	if !m.Exists() {
		t.Fatal("legacy AOF not seen")
	}
	units, info, err := loadAll(m)
	if err != nil || !info.Upgraded || unitsString(units) != "SELECT 0|SET old style" {
		t.Fatalf("%q %v %+v", unitsString(units), err, info)
	}
	ad := filepath.Join(dir, DefaultDirName)
	if got := string(readFile(t, filepath.Join(ad, DefaultFileName+".manifest"))); got != "file appendonly.aof seq 1 type b\n" {
		t.Fatalf("manifest %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("legacy file still there: %v", err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Append(enc("SET", "new", "1"))
	// A rewrite retires the legacy base.
	base, err := m.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	base.Write(encUnit([]string{"SELECT", "0"}, []string{"SET", "old", "style"}, []string{"SET", "new", "1"}))
	m.Append(enc("SET", "newer", "2"))
	if err := m.CommitRewrite(base, false); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(listDir(t, ad), " "); got != "appendonly.aof.2.base.aof appendonly.aof.2.incr.aof appendonly.aof.manifest" {
		t.Fatalf("dir: %s", got)
	}
	units, _, err = loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || unitsString(units) != "SELECT 0|SET old style|SET new 1|SET newer 2" {
		t.Fatalf("%q %v", unitsString(units), err)
	}
}

// An upgrade interrupted after the manifest was written is finished.
func TestLegacyUpgradeInterrupted(t *testing.T) {
	dir := t.TempDir()
	writeAOF(t, dir, "file appendonly.aof seq 1 type b\n", nil)
	os.WriteFile(filepath.Join(dir, DefaultFileName), enc("SET", "a", "b"), 0o644)
	units, info, err := loadAll(mustOpen(t, testConfig(dir)))
	if err != nil || !info.Upgraded || unitsString(units) != "SET a b" {
		t.Fatalf("%q %v %+v", unitsString(units), err, info)
	}
}
