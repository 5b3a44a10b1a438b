package aof

import (
	"reflect"
	"strings"
	"testing"
)

func TestManifestRoundTrip(t *testing.T) {
	names := []string{
		"appendonly.aof.1.base.rdb",
		"with space.aof",
		`quote"and"more`,
		"tab\tnewline\ncr\rbell\abs\b",
		"bin\x01\x7f\xff\x00end",
		"ünïcödé.aof",
		"'single'",
	}
	for _, name := range names {
		m := &manifest{
			base: &aofFile{name: name, seq: 7, typ: typeBase},
			hist: []aofFile{{name: name + ".h", seq: 3, typ: typeHist}},
			incr: []aofFile{{name: name + ".i1", seq: 5, typ: typeIncr}, {name: name + ".i2", seq: 9, typ: typeIncr}},
		}
		text := m.format()
		if strings.Count(string(text), "\n") != 4 {
			t.Fatalf("%q: format gave %q", name, text)
		}
		got, err := parseManifest("test.manifest", text)
		if strings.ContainsRune(name, 0) {
			// Redis reads names as C strings: a NUL cuts them.
			if err != nil {
				t.Fatalf("%q: %v", name, err)
			}
			if got.base.name != "bin\x01\x7f\xff" {
				t.Fatalf("NUL name parsed as %q", got.base.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: parse of %q: %v", name, text, err)
		}
		m.baseSeq, m.incrSeq = 7, 9
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%q: round trip\n got %+v\nwant %+v\ntext %q", name, got, m, text)
		}
	}
}

func TestManifestFormatIsRedis(t *testing.T) {
	m := &manifest{
		base: &aofFile{name: "appendonly.aof.2.base.rdb", seq: 2, typ: typeBase},
		hist: []aofFile{{name: "appendonly.aof.1.incr.aof", seq: 1, typ: typeHist}},
		incr: []aofFile{{name: "appendonly.aof.4.incr.aof", seq: 4, typ: typeIncr}},
	}
	want := "file appendonly.aof.2.base.rdb seq 2 type b\n" +
		"file appendonly.aof.1.incr.aof seq 1 type h\n" +
		"file appendonly.aof.4.incr.aof seq 4 type i\n"
	if got := string(m.format()); got != want {
		t.Fatalf("format:\n%s\nwant:\n%s", got, want)
	}
	q := &manifest{base: &aofFile{name: "a b", seq: 1, typ: typeBase}}
	if got := string(q.format()); got != "file \"a b\" seq 1 type b\n" {
		t.Fatalf("quoted: %q", got)
	}
}

// Manifests from Redis's aof.c comment and tests (tests/integration/aof-multi-part.tcl).
func TestManifestRedisExamples(t *testing.T) {
	cases := []struct {
		text          string
		base          string
		incr, hist    []string
		baseSeq, iSeq int64
	}{
		{
			text: "file appendonly.aof.2.base.rdb seq 2 type b\n" +
				"file appendonly.aof.1.incr.aof seq 1 type h\n" +
				"file appendonly.aof.2.incr.aof seq 2 type h\n" +
				"file appendonly.aof.3.incr.aof seq 3 type h\n" +
				"file appendonly.aof.4.incr.aof seq 4 type i\n" +
				"file appendonly.aof.5.incr.aof seq 5 type i\n",
			base: "appendonly.aof.2.base.rdb", baseSeq: 2, iSeq: 5,
			incr: []string{"appendonly.aof.4.incr.aof", "appendonly.aof.5.incr.aof"},
			hist: []string{"appendonly.aof.1.incr.aof", "appendonly.aof.2.incr.aof", "appendonly.aof.3.incr.aof"},
		},
		{ // written by redis-server 7.0.15
			text: "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
			base: "appendonly.aof.1.base.rdb", baseSeq: 1, iSeq: 1,
			incr: []string{"appendonly.aof.1.incr.aof"},
		},
		{ // comments, quoting, key case, CRLF, extra keys (forward compatibility), any key order
			text: "# a comment\n" +
				"file \"appendonly.aof.1.base.aof\" seq 1 type b\r\n" +
				"#another\n" +
				"FILE 'appendonly.aof.1.incr.aof' SEQ 1 TYPE i newkey newvalue\n" +
				"  type i seq 2 file appendonly.aof.2.incr.aof  \n",
			base: "appendonly.aof.1.base.aof", baseSeq: 1, iSeq: 2,
			incr: []string{"appendonly.aof.1.incr.aof", "appendonly.aof.2.incr.aof"},
		},
		{ // only incremental files (a base is optional)
			text: "file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
			iSeq: 2, incr: []string{"appendonly.aof.1.incr.aof", "appendonly.aof.2.incr.aof"},
		},
		{ // comments only: no AOF
			text: "# nothing\n",
		},
	}
	for i, c := range cases {
		m, err := parseManifest("x.manifest", []byte(c.text))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		base := ""
		if m.base != nil {
			base = m.base.name
		}
		var incr, hist []string
		for _, f := range m.incr {
			incr = append(incr, f.name)
		}
		for _, f := range m.hist {
			hist = append(hist, f.name)
		}
		if base != c.base || !reflect.DeepEqual(incr, c.incr) || !reflect.DeepEqual(hist, c.hist) ||
			m.baseSeq != c.baseSeq || m.incrSeq != c.iSeq {
			t.Fatalf("case %d: got base %q incr %q hist %q seqs %d/%d", i, base, incr, hist, m.baseSeq, m.incrSeq)
		}
	}
}

func TestManifestInvalid(t *testing.T) {
	long := "file " + strings.Repeat("a", 1100) + " seq 1 type b\n"
	cases := []struct{ text, want string }{
		{"", "Found an empty AOF manifest"},
		{"\n", "Invalid AOF manifest file format"},
		{"file a seq 1 type b\n\nfile b seq 1 type i\n", "line 2: Invalid AOF manifest file format"},
		{"file a seq 1 type\n", "Invalid AOF manifest file format"},
		{"file a seq 1 type b x\n", "Invalid AOF manifest file format"},
		{"file a seq 1 typo b\n", "Invalid AOF manifest file format"},
		{"file a seq 0 type b\n", "Invalid AOF manifest file format"},
		{"file a seq abc type b\n", "Invalid AOF manifest file format"},
		{"file a seq 1 type \"\"\n", "Invalid AOF manifest file format"},
		{"file a seq 1 type x\n", "Unknown AOF file type"},
		{"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"},
		{"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"},
		{"file a seq 3 type i\nfile b seq 1 type i\n", "at line 2 ('file b seq 1 type i'): Found a non-monotonic sequence number"},
		{"file a seq -1 type i\n", "Found a non-monotonic sequence number"},
		{"file dir/a seq 1 type b\n", "File can't be a path, just a filename"},
		{"file ../a seq 1 type b\n", "File can't be a path, just a filename"},
		{"file .. seq 1 type b\n", "File can't be a path, just a filename"},
		{"file a\\b seq 1 type b\n", "File can't be a path, just a filename"},
		{"file \"\" seq 1 type b\n", "File can't be a path, just a filename"},
		{long, "line 1: The AOF manifest file contains too long line"},
		{"file a seq 1 type b", "the last line has no terminating newline"},
		{"file \"a seq 1 type b\n", "Invalid AOF manifest file format"},
		{"file \"a\"b seq 1 type b\n", "Invalid AOF manifest file format"},
		{"file 'a seq 1 type b\n", "Invalid AOF manifest file format"},
		{"file a\x00 seq 1 type b\n", "NUL byte"},
	}
	for _, c := range cases {
		_, err := parseManifest("/d/appendonly.aof.manifest", []byte(c.text))
		if err == nil {
			t.Errorf("%q: accepted", c.text)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "/d/appendonly.aof.manifest") {
			t.Errorf("%q: error %q, want it to contain %q and the path", c.text, err, c.want)
		}
	}
	// A long comment is fine as long as each fgets chunk starts with '#'
	// is not required: Redis only looks at the first chunk; a 1023-byte
	// line plus newline is the longest accepted line.
	ok := "file " + strings.Repeat("b", manifestMaxLine-1-len("file  seq 1 type b")) + " seq 1 type b\n"
	if len(ok) != manifestMaxLine {
		t.Fatalf("test line is %d bytes", len(ok))
	}
	if _, err := parseManifest("m", []byte(ok)); err != nil {
		t.Fatalf("%d-byte line refused: %v", len(ok), err)
	}
	if _, err := parseManifest("m", []byte("x"+ok)); err == nil {
		t.Fatalf("%d-byte line accepted", len(ok)+1)
	}
}

func TestAtoll(t *testing.T) {
	cases := map[string]int64{"12": 12, " 7x": 7, "-3": -3, "+4": 4, "abc": 0, "": 0,
		"99999999999999999999": 9223372036854775807, "-99999999999999999999": -9223372036854775808}
	for in, want := range cases {
		if got := atoll(in); got != want {
			t.Errorf("atoll(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestRedisCRC64(t *testing.T) {
	// The check value of Redis's crc64 (src/crc64.c's test).
	if got := redisCRC64([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %#x", got)
	}
}
