package aof

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// enc encodes one command in RESP, as the server appends it.
func enc(args ...string) []byte {
	var b []byte
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// encUnit encodes several commands back to back (a MULTI … EXEC block).
func encUnit(cmds ...[]string) []byte {
	var b []byte
	for _, c := range cmds {
		b = append(b, enc(c...)...)
	}
	return b
}

// quietLogger discards log output (tests that want it use testLogger).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is a Config for dir with a quiet logger.
func testConfig(dir string) Config {
	return Config{Dir: dir, Fsync: EverySec, Logger: quietLogger()}
}

func mustOpen(t testing.TB, cfg Config) *Manager {
	t.Helper()
	m, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

// unitsString renders units as "SET a 1|MULTI;SET b 2;EXEC|…" for comparisons.
func unitsString(units [][][][]byte) string {
	parts := make([]string, len(units))
	for i, u := range units {
		cmds := make([]string, len(u))
		for j, argv := range u {
			cmds[j] = string(bytes.Join(argv, []byte(" ")))
		}
		parts[i] = strings.Join(cmds, ";")
	}
	return strings.Join(parts, "|")
}

// loadAll loads m and collects the units applied. An RDB base is read to
// the end and recorded as a unit "RDB <n bytes>".
func loadAll(m *Manager) ([][][][]byte, LoadInfo, error) {
	var units [][][][]byte
	info, err := m.Load(func(r io.Reader) error {
		b, err := io.ReadAll(r)
		units = append(units, [][][]byte{{[]byte("RDB"), []byte(strconv.Itoa(len(b)))}})
		return err
	}, func(cmds [][][]byte) error {
		units = append(units, cmds)
		return nil
	})
	return units, info, err
}

// writeAOF creates an AOF directory under dir by hand: a manifest and the
// given files (name → content), base first.
func writeAOF(t testing.TB, dir string, manifestText string, files map[string][]byte) string {
	t.Helper()
	ad := filepath.Join(dir, DefaultDirName)
	if err := os.MkdirAll(ad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ad, DefaultFileName+".manifest"), []byte(manifestText), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ad, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ad
}

const (
	baseAOF = "appendonly.aof.1.base.aof"
	incr1   = "appendonly.aof.1.incr.aof"
	incr2   = "appendonly.aof.2.incr.aof"
)

// simpleManifest names an empty RESP base and one incremental file.
const simpleManifest = "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func itoa(n int) string { return strconv.Itoa(n) }
