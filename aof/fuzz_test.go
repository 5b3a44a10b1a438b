package aof

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as the incremental file and to
// Open as the manifest. Nothing may panic or hang, and the outcomes must be
// consistent: a truncated file is fixed by LoadTruncated, which leaves a
// prefix of it that loads cleanly to the same units; a malformed one is
// refused with an error naming it, with or without LoadTruncated.
//
// File operations are slow in some sandboxes, so one directory serves all
// inputs of a process and each input costs as few of them as possible.
func FuzzLoad(f *testing.F) {
	stream := bytes.Join(sampleUnits(), nil)
	f.Add(stream, []byte(simpleManifest))
	f.Add(stream[:len(stream)-5], []byte(simpleManifest))
	f.Add(append(bytes.Clone(fakeRDB), enc("SET", "a", "b")...), []byte("file appendonly.aof.1.incr.aof seq 1 type i\n"))
	f.Add([]byte("#TS:1\r\n*1\r\n$4\r\nPING\r\n#"), []byte("# c\nfile \"appendonly.aof.1.base.aof\" seq 1 type b\nfile appendonly.aof.1.incr.aof seq 2 type i\n"))
	f.Add([]byte("*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n*2\r\n$999\r\n"), []byte("file x seq 1 type h\n"))
	f.Add([]byte("*99999999999999999\r\n"), []byte("file 'appendonly.aof.1.incr.aof' seq 1 type i k v\n"))
	dir := f.TempDir()
	ad := filepath.Join(dir, DefaultDirName)
	if err := os.MkdirAll(ad, 0o755); err != nil {
		f.Fatal(err)
	}
	write := func(t *testing.T, name string, data []byte) {
		if err := os.WriteFile(filepath.Join(ad, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(nil, baseAOF, nil)
	f.Fuzz(func(t *testing.T, incr, mf []byte) {
		write(t, DefaultFileName+manifestSuffix, []byte(simpleManifest))
		write(t, incr1, incr)
		fuzzIncr(t, dir, incr)
		fuzzManifest(t, dir, incr, mf, write)
	})
}

// loadQuiet loads dir without fsyncs, returning the units.
func loadQuiet(dir string, truncOK bool) (string, LoadInfo, error) {
	cfg := testConfig(dir)
	cfg.LoadTruncated = truncOK
	m, err := Open(cfg)
	if err != nil {
		return "", LoadInfo{}, err
	}
	m.syncHook = func(*os.File) error { return nil }
	units, info, err := loadAll(m)
	return unitsString(units), info, err
}

func fuzzIncr(t *testing.T, dir string, incr []byte) {
	strict, _, serr := loadQuiet(dir, false)
	switch {
	case serr == nil:
		if strings.Count(strict, "|") > len(incr)/4 {
			t.Fatalf("more units than bytes allow: %q", strict)
		}
	case errors.Is(serr, ErrTruncated):
		lenient, info, lerr := loadQuiet(dir, true)
		if lerr != nil || !info.Truncated {
			t.Fatalf("truncated load not fixed: %v / %v", serr, lerr)
		}
		after := readFile(t, filepath.Join(dir, DefaultDirName, incr1))
		if int64(len(after)) != info.TruncatedAt || !bytes.HasPrefix(incr, after) {
			t.Fatalf("file not cut to %d: %d bytes", info.TruncatedAt, len(after))
		}
		again, _, err := loadQuiet(dir, false)
		if err != nil || again != lenient {
			t.Fatalf("truncated file does not reload cleanly: %v", err)
		}
	case errors.Is(serr, ErrBadFormat):
		if !strings.Contains(serr.Error(), incr1) {
			t.Fatalf("error does not name the file: %v", serr)
		}
		if _, _, lerr := loadQuiet(dir, true); !errors.Is(lerr, ErrBadFormat) {
			t.Fatalf("format error %v became %v", serr, lerr)
		}
	default:
		t.Fatalf("unexpected error %v", serr)
	}
}

func fuzzManifest(t *testing.T, dir string, incr, mf []byte, write func(*testing.T, string, []byte)) {
	m, err := parseManifest("fuzz", mf)
	if err != nil {
		return // Open would refuse it without touching anything else
	}
	text := m.format()
	long := false
	for _, line := range bytes.SplitAfter(text, []byte("\n")) {
		long = long || len(line) >= manifestMaxLine
	}
	if !long && len(text) > 0 {
		m2, err := parseManifest("fuzz", text)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of %q: %v\n%+v\n%+v", text, err, m, m2)
		}
	}
	write(t, DefaultFileName+manifestSuffix, mf)
	write(t, incr1, incr)
	loadQuiet(dir, true)
}
