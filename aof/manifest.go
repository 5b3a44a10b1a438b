package aof

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/thredis/thredis/sdsquote"
)

// Names of the files in the AOF directory, as Redis 7 spells them.
const (
	baseSuffix     = ".base"
	incrSuffix     = ".incr"
	rdbFormat      = ".rdb"
	aofFormat      = ".aof"
	manifestSuffix = ".manifest"
	tempPrefix     = "temp-"

	// manifestMaxLine is Redis's MANIFEST_MAX_LINE: the manifest is read
	// with fgets into a buffer of this many bytes plus the terminator.
	manifestMaxLine = 1024
)

// fileType is a manifest entry's type: base, incremental or history.
type fileType byte

const (
	typeBase fileType = 'b'
	typeIncr fileType = 'i'
	typeHist fileType = 'h'
)

// aofFile is one manifest entry.
type aofFile struct {
	name string
	seq  int64
	typ  fileType
}

// manifest is the parsed content of <appendfilename>.manifest: at most one
// base file, the incremental files in load order, and history files that
// are no longer part of the data set and wait to be deleted.
type manifest struct {
	base *aofFile
	incr []aofFile
	hist []aofFile

	// baseSeq and incrSeq are the sequence numbers of the last base and
	// incremental file (Redis's curr_base_file_seq / curr_incr_file_seq);
	// new files take the next number.
	baseSeq int64
	incrSeq int64
}

// empty reports whether the manifest names no data file.
func (m *manifest) empty() bool { return m.base == nil && len(m.incr) == 0 }

// clone returns a deep copy, so a modified manifest can be persisted
// before it replaces the current one.
func (m *manifest) clone() *manifest {
	c := *m
	if m.base != nil {
		b := *m.base
		c.base = &b
	}
	c.incr = append([]aofFile(nil), m.incr...)
	c.hist = append([]aofFile(nil), m.hist...)
	return &c
}

// ManifestError reports an invalid manifest file: what is wrong and, when
// the problem is on a particular line, which one.
type ManifestError struct {
	Path   string // the manifest file
	Line   int    // 1-based line number, 0 when the error is not about one line
	Text   string // the offending line (trimmed), if any
	Reason string // Redis's message, e.g. "Invalid AOF manifest file format"
}

// Error implements error.
func (e *ManifestError) Error() string {
	if e.Line > 0 && e.Text != "" {
		return fmt.Sprintf("aof: invalid AOF manifest %s at line %d ('%s'): %s", e.Path, e.Line, e.Text, e.Reason)
	}
	if e.Line > 0 {
		return fmt.Sprintf("aof: invalid AOF manifest %s at line %d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("aof: invalid AOF manifest %s: %s", e.Path, e.Reason)
}

// parseManifest parses a manifest exactly as Redis 7.0's
// aofLoadManifestFromFile does: lines are read fgets-style in chunks of at
// most manifestMaxLine bytes; a chunk starting with '#' is a comment; any
// other chunk must end in a newline, must not be blank and must split
// (sdssplitargs quoting) into an even number of at least six words, read as
// key/value pairs: file <name> seq <n> type <b|i|h>. Unknown keys are
// ignored for forward compatibility. Incremental files must have strictly
// increasing sequence numbers and there is at most one base. path is only
// used in error messages.
func parseManifest(path string, data []byte) (*manifest, error) {
	m := &manifest{}
	var maxSeq int64
	lineno := 0
	fail := func(text, reason string) error {
		return &ManifestError{Path: path, Line: lineno, Text: text, Reason: reason}
	}
	for len(data) > 0 {
		// fgets(buf, MANIFEST_MAX_LINE+1): up to and including '\n', at
		// most manifestMaxLine bytes.
		limit := min(len(data), manifestMaxLine)
		n := limit
		if i := bytes.IndexByte(data[:limit], '\n'); i >= 0 {
			n = i + 1
		}
		chunk := data[:n]
		data = data[n:]
		lineno++
		if chunk[0] == '#' {
			continue
		}
		// Redis works on C strings: a NUL byte ends the line before its
		// newline, which Redis reports as a too long line.
		if bytes.IndexByte(chunk, 0) >= 0 {
			return nil, fail("", "The AOF manifest file contains a NUL byte")
		}
		if chunk[len(chunk)-1] != '\n' {
			if len(data) == 0 && len(chunk) < manifestMaxLine {
				return nil, fail("", "The AOF manifest file contains too long line (the last line has no terminating newline)")
			}
			return nil, fail("", "The AOF manifest file contains too long line")
		}
		line := strings.Trim(string(chunk), " \t\r\n")
		if line == "" {
			return nil, fail(line, "Invalid AOF manifest file format")
		}
		argv, err := sdsquote.Split(line)
		if err != nil || len(argv) < 6 || len(argv)%2 != 0 {
			return nil, fail(line, "Invalid AOF manifest file format")
		}
		var ai aofFile
		hasName := false
		for i := 0; i < len(argv); i += 2 {
			key, val := cString(argv[i]), argv[i+1]
			switch {
			case strings.EqualFold(key, "file"):
				ai.name = cString(val)
				hasName = true
				if !isBaseName(ai.name) {
					return nil, fail(line, "File can't be a path, just a filename")
				}
			case strings.EqualFold(key, "seq"):
				ai.seq = atoll(cString(val))
			case strings.EqualFold(key, "type"):
				if v := cString(val); v != "" {
					ai.typ = fileType(v[0])
				} else {
					ai.typ = 0
				}
			}
		}
		if !hasName || ai.seq == 0 || ai.typ == 0 {
			return nil, fail(line, "Invalid AOF manifest file format")
		}
		switch ai.typ {
		case typeBase:
			if m.base != nil {
				return nil, fail(line, "Found duplicate base file information")
			}
			b := ai
			m.base = &b
			m.baseSeq = ai.seq
		case typeHist:
			m.hist = append(m.hist, ai)
		case typeIncr:
			if ai.seq <= maxSeq {
				return nil, fail(line, "Found a non-monotonic sequence number")
			}
			m.incr = append(m.incr, ai)
			m.incrSeq = ai.seq
			maxSeq = ai.seq
		default:
			return nil, fail(line, "Unknown AOF file type")
		}
	}
	if lineno == 0 {
		return nil, &ManifestError{Path: path, Reason: "Found an empty AOF manifest"}
	}
	return m, nil
}

// format renders the manifest as Redis's getAofManifestAsString does: the
// base first, then history, then incremental files, one
// "file <name> seq <n> type <t>" line each, names quoted when needed.
func (m *manifest) format() []byte {
	var b []byte
	add := func(f *aofFile) {
		b = append(b, "file "...)
		name := f.name
		// Redis quotes only when sdsneedsrepr says so, and then can't read
		// back a name holding a single quote: quote those too.
		if sdsquote.NeedsRepr(name) || strings.IndexByte(name, '\'') >= 0 {
			b = sdsquote.AppendRepr(b, name)
		} else {
			b = append(b, name...)
		}
		b = append(b, " seq "...)
		b = strconv.AppendInt(b, f.seq, 10)
		b = append(b, " type "...)
		b = append(b, byte(f.typ), '\n')
	}
	if m.base != nil {
		add(m.base)
	}
	for i := range m.hist {
		add(&m.hist[i])
	}
	for i := range m.incr {
		add(&m.incr[i])
	}
	return b
}

// isBaseName reports whether name is a plain file name (Redis's
// pathIsBaseName, and also refusing the empty name and the directory
// entries "." and "..").
func isBaseName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\")
}

// cString cuts s at its first NUL byte, as C string functions see it.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// atoll converts like C's atoll (strtoll in base 10): leading white space,
// an optional sign, then digits up to the first non-digit; 0 when there are
// none; clamped on overflow.
func atoll(s string) int64 {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v uint64
	over := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			over = true
			continue
		}
		v = v*10 + d
	}
	if neg {
		if over || v > uint64(math.MaxInt64)+1 {
			return math.MinInt64
		}
		return int64(-v)
	}
	if over || v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// readManifest reads and parses the manifest at path. It returns (nil, nil)
// when the file does not exist.
func readManifest(path string) (*manifest, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("aof: can't open the AOF manifest file %s for reading: %w", path, err)
	}
	return parseManifest(path, data)
}
