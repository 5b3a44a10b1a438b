package aof

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

var (
	// ErrBadFormat is wrapped by a LoadError for a malformed AOF file.
	ErrBadFormat = errors.New("bad AOF file format")
	// ErrTruncated is wrapped by a LoadError for an AOF file that ends in
	// the middle of a command or of a MULTI/EXEC block where the data can't
	// (or may not) be truncated.
	ErrTruncated = errors.New("unexpected end of AOF file")
)

// LoadError reports why Load refused an AOF: the file (a name inside the
// AOF directory), the byte offset in it, and what went wrong. errors.Is
// matches ErrBadFormat, ErrTruncated, or the error returned by a callback
// or by the file system.
type LoadError struct {
	File   string
	Offset int64
	Reason string
	Err    error
}

// Error implements error; the wording follows Redis's log messages.
func (e *LoadError) Error() string {
	switch {
	case errors.Is(e.Err, ErrBadFormat):
		return fmt.Sprintf("Bad file format reading the append only file %s at offset %d: %s", e.File, e.Offset, e.Reason)
	case errors.Is(e.Err, ErrTruncated):
		return fmt.Sprintf("Unexpected end of file reading the append only file %s at offset %d: %s", e.File, e.Offset, e.Reason)
	}
	return fmt.Sprintf("Error loading the append only file %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// LoadedFile describes one file read by Load.
type LoadedFile struct {
	Name     string // file name inside the AOF directory
	Base     bool   // the manifest's base file (otherwise an incremental file)
	RDB      bool   // the file starts with an RDB ("REDIS" signature)
	Size     int64  // bytes loaded (the size after any truncation)
	Units    int    // atomic units passed to apply
	Commands int    // commands passed to apply
}

// LoadInfo reports what Load did.
type LoadInfo struct {
	Files    []LoadedFile // in load order; empty when there was no AOF
	Units    int          // atomic units passed to apply (a command or a MULTI/EXEC block)
	Commands int          // commands passed to apply, MULTI and EXEC included
	Bytes    int64        // bytes loaded from all files
	Upgraded bool         // a legacy single-file AOF was moved into the AOF directory

	// Truncated is set when the last file ended in an incomplete command or
	// MULTI/EXEC block and LoadTruncated let Load cut it off.
	Truncated      bool
	TruncatedFile  string // the file that was truncated
	TruncatedAt    int64  // its new size: the end of the last whole unit
	TruncatedBytes int64  // how many bytes were removed
	RevertedMulti  bool   // the removed tail held an incomplete MULTI block
}

// Load replays the AOF named by the manifest (moving a legacy single-file
// AOF into the AOF directory first, as Redis 7 does): the base file, then
// every incremental file, in order. It must be called before Start.
//
// A file that starts with "REDIS" (an RDB base, or an old-style AOF with an
// RDB preamble) is handed to baseRDB, which must read exactly the RDB from
// r and not beyond it (r is a *bufio.Reader, so decoders can use it as an
// io.ByteReader without buffering of their own); whatever follows the RDB
// is then read as commands. baseRDB may be nil if no file is an RDB.
//
// apply receives one atomic unit at a time: a single command's argv, or a
// whole MULTI … EXEC block (the argv of MULTI, of each queued command and
// of EXEC). apply may keep the slices. Lines starting with '#' (Redis's
// annotations) are skipped. A MULTI block that DISCARD ends is dropped.
//
// When the last file ends in the middle of a command or of a MULTI block
// (Redis reverts such a transaction), Load with Config.LoadTruncated loads
// everything before it, logs a warning, and truncates the file to the end
// of the last whole unit so appends continue cleanly; without
// LoadTruncated it refuses with a LoadError wrapping ErrTruncated. Any
// other damage — malformed data anywhere, an incomplete non-last file —
// and any error from a callback stop the load with a LoadError naming the
// file and the byte offset. With no AOF, Load returns an empty LoadInfo.
func (m *Manager) Load(baseRDB func(r io.Reader) error, apply func(cmds [][][]byte) error) (LoadInfo, error) {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	var info LoadInfo
	if m.getState() != stateIdle {
		return info, errors.New("aof: Load must be called before Start or BeginRewrite")
	}
	if m.legacy {
		if err := m.upgradeLegacy(); err != nil {
			return info, err
		}
		info.Upgraded = true
	}
	if m.man == nil || m.man.empty() {
		return info, nil
	}
	var files []aofFile
	if m.man.base != nil {
		files = append(files, *m.man.base)
	}
	files = append(files, m.man.incr...)
	// Like Redis, refuse before loading anything if a file is missing.
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(m.dir, f.name)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return info, fmt.Errorf("aof: the append only file %s named in the manifest %s doesn't exist: %w",
					f.name, m.manifestPath(), err)
			}
			return info, fmt.Errorf("aof: can't open the append only file %s: %w", f.name, err)
		}
	}
	for i, f := range files {
		last := i == len(files)-1
		lf, err := m.loadFile(f, last, baseRDB, apply, &info)
		info.Files = append(info.Files, lf)
		info.Units += lf.Units
		info.Commands += lf.Commands
		info.Bytes += lf.Size
		if err != nil {
			return info, err
		}
	}
	m.log.Info("DB loaded from append only file", "files", len(info.Files), "units", info.Units,
		"commands", info.Commands, "bytes", info.Bytes)
	return info, nil
}

// loadFile replays one file. On a truncated tail it truncates the file (if
// allowed) and records it in info.
func (m *Manager) loadFile(af aofFile, last bool, baseRDB func(io.Reader) error,
	apply func([][][]byte) error, info *LoadInfo) (LoadedFile, error) {
	lf := LoadedFile{Name: af.name, Base: af.typ == typeBase}
	path := filepath.Join(m.dir, af.name)
	f, err := os.Open(path)
	if err != nil {
		return lf, fmt.Errorf("aof: can't open the append only file %s for reading: %w", af.name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return lf, fmt.Errorf("aof: stat of the append only file %s: %w", af.name, err)
	}
	size := st.Size()
	if size == 0 {
		return lf, nil
	}
	cr := &countingReader{r: f}
	p := &cmdParser{br: bufio.NewReaderSize(cr, 64<<10), size: size}
	loadErr := func(off int64, cause error, format string, args ...any) *LoadError {
		return &LoadError{File: af.name, Offset: off, Reason: fmt.Sprintf(format, args...), Err: cause}
	}
	if sig, _ := p.br.Peek(5); string(sig) == "REDIS" {
		lf.RDB = true
		if baseRDB == nil {
			return lf, loadErr(0, ErrBadFormat, "the file is an RDB but no RDB loader was given")
		}
		if err := baseRDB(p.br); err != nil {
			off := cr.n - int64(p.br.Buffered())
			return lf, loadErr(off, err, "reading the RDB: %v", err)
		}
		p.off = cr.n - int64(p.br.Buffered())
	}

	validUpTo := p.off // end of the last whole unit
	var block [][][]byte
	inMulti := false
	var multiStart int64
	for {
		argv, start, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *parseError
			if errors.As(err, &pe) {
				if pe.truncated {
					return m.truncatedTail(af.name, path, last, validUpTo, size, inMulti, &lf, info)
				}
				return lf, loadErr(pe.off, ErrBadFormat, "%s", pe.reason)
			}
			return lf, loadErr(p.off, err, "read error: %v", err)
		}
		name := argv[0]
		switch {
		case bytes.EqualFold(name, []byte("MULTI")):
			if inMulti {
				return lf, loadErr(start, ErrBadFormat, "MULTI calls can not be nested")
			}
			inMulti, multiStart = true, start
			block = [][][]byte{argv}
			continue
		case bytes.EqualFold(name, []byte("EXEC")):
			if !inMulti {
				return lf, loadErr(start, ErrBadFormat, "EXEC without MULTI")
			}
			block = append(block, argv)
			inMulti = false
		case bytes.EqualFold(name, []byte("DISCARD")):
			if !inMulti {
				return lf, loadErr(start, ErrBadFormat, "DISCARD without MULTI")
			}
			inMulti, block = false, nil
			validUpTo = p.off
			continue
		case inMulti:
			block = append(block, argv)
			continue
		default:
			block = [][][]byte{argv}
		}
		if err := apply(block); err != nil {
			if len(block) > 1 {
				return lf, loadErr(multiStart, err, "applying the MULTI/EXEC block: %v", err)
			}
			return lf, loadErr(start, err, "applying %q: %v", truncName(block[0][0]), err)
		}
		lf.Units++
		lf.Commands += len(block)
		block = nil
		validUpTo = p.off
	}
	if inMulti {
		// Well-formed, but the transaction never got its EXEC: Redis
		// reverts it and treats the file as truncated.
		return m.truncatedTail(af.name, path, last, validUpTo, size, true, &lf, info)
	}
	lf.Size = size
	return lf, nil
}

// truncatedTail handles a file that ends inside a unit starting at
// validUpTo: truncate it when it is the last file and LoadTruncated is set,
// refuse otherwise.
func (m *Manager) truncatedTail(name, path string, last bool, validUpTo, size int64,
	multi bool, lf *LoadedFile, info *LoadInfo) (LoadedFile, error) {
	what := "an incomplete command"
	if multi {
		what = "an incomplete MULTI/EXEC block"
	}
	if !last {
		return *lf, &LoadError{File: name, Offset: validUpTo, Err: ErrTruncated, Reason: fmt.Sprintf(
			"the file ends with %s (%d bytes from offset %d) but is not the last file of the AOF, so it can't be truncated; "+
				"make a backup of your AOF, then use redis-check-aof --fix %s",
			what, size-validUpTo, validUpTo, m.manifestPath())}
	}
	if !m.cfg.LoadTruncated {
		return *lf, &LoadError{File: name, Offset: validUpTo, Err: ErrTruncated, Reason: fmt.Sprintf(
			"the file ends with %s (%d bytes from offset %d). You can: 1) Make a backup of your AOF file, "+
				"then use redis-check-aof --fix %s. 2) Alternatively you can set the 'aof-load-truncated' "+
				"configuration option to yes and restart the server.",
			what, size-validUpTo, validUpTo, m.manifestPath())}
	}
	m.log.Warn("!!! Warning: short read while loading the AOF file; truncating it !!!",
		"file", name, "offset", validUpTo, "removed_bytes", size-validUpTo, "incomplete_multi", multi)
	if err := m.truncateFile(path, validUpTo); err != nil {
		return *lf, &LoadError{File: name, Offset: validUpTo, Err: err,
			Reason: fmt.Sprintf("truncating the file at offset %d: %v", validUpTo, err)}
	}
	m.log.Warn("AOF loaded anyway because aof-load-truncated is enabled", "file", name)
	lf.Size = validUpTo
	info.Truncated = true
	info.TruncatedFile = name
	info.TruncatedAt = validUpTo
	info.TruncatedBytes = size - validUpTo
	info.RevertedMulti = multi
	return *lf, nil
}

// truncateFile cuts the file at path to size bytes and fsyncs it.
func (m *Manager) truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = m.syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// truncName shortens a command name for messages.
func truncName(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// parseError is a problem found by cmdParser: malformed data, or the end of
// the file in the middle of a command (truncated).
type parseError struct {
	off       int64
	reason    string
	truncated bool
}

func (e *parseError) Error() string { return fmt.Sprintf("offset %d: %s", e.off, e.reason) }

// cmdParser reads RESP commands ("*<argc>\r\n" then argc "$<len>\r\n<data>\r\n")
// as Redis writes them to the AOF, strictly: any deviation is a format
// error, and the end of the file inside a command is a truncation.
type cmdParser struct {
	br   *bufio.Reader
	off  int64 // offset of the next unread byte
	size int64 // file size: announced lengths beyond it mean truncation
}

func (p *cmdParser) bad(off int64, format string, args ...any) error {
	return &parseError{off: off, reason: fmt.Sprintf(format, args...)}
}

func (p *cmdParser) short(off int64) error {
	return &parseError{off: off, reason: "unexpected end of file", truncated: true}
}

// maxPreallocArgs bounds the argv slice allocated from an untrusted count.
const maxPreallocArgs = 1024

// next returns the next command and the offset where it starts, io.EOF at
// a clean end of file, or a *parseError. Annotation lines are skipped.
func (p *cmdParser) next() (argv [][]byte, start int64, err error) {
	for {
		start = p.off
		b, err := p.br.Peek(1)
		if len(b) == 0 {
			if err == io.EOF || err == nil {
				return nil, start, io.EOF
			}
			return nil, start, err
		}
		if b[0] != '#' {
			break
		}
		if err := p.skipLine(); err != nil {
			return nil, start, err
		}
	}
	argc, err := p.number('*')
	if err != nil {
		return nil, start, err
	}
	if argc < 1 {
		return nil, start, p.bad(start, "invalid argument count %d", argc)
	}
	argv = make([][]byte, 0, min(argc, maxPreallocArgs))
	for range argc {
		n, err := p.number('$')
		if err != nil {
			return nil, start, err
		}
		if n > p.size-p.off {
			// The file can't hold the announced argument.
			return nil, start, p.short(p.off)
		}
		arg := make([]byte, n)
		if _, err := io.ReadFull(p.br, arg); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, start, p.short(p.off)
			}
			return nil, start, err
		}
		p.off += n
		if err := p.crlf(); err != nil {
			return nil, start, err
		}
		argv = append(argv, arg)
	}
	return argv, start, nil
}

// skipLine consumes an annotation line through its '\n'. An annotation cut
// by the end of the file is a truncated tail: appending after it would glue
// the next command onto the annotation.
func (p *cmdParser) skipLine() error {
	start := p.off
	for {
		line, err := p.br.ReadSlice('\n')
		p.off += int64(len(line))
		switch err {
		case nil:
			return nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return p.short(start)
		default:
			return err
		}
	}
}

// maxDigits bounds the digits of a count or length (10^18 exceeds any file).
const maxDigits = 18

// number reads a "<prefix><digits>\r\n" line.
func (p *cmdParser) number(prefix byte) (int64, error) {
	start := p.off
	line, err := p.br.ReadSlice('\n')
	p.off += int64(len(line))
	kind := "argument count"
	if prefix == '$' {
		kind = "bulk length"
	}
	switch err {
	case nil:
	case io.EOF, bufio.ErrBufferFull:
		// No newline: a prefix of a valid line is a truncated tail (at
		// EOF); anything else is garbage.
		if len(line) == 0 {
			return 0, p.short(start)
		}
		if line[0] != prefix {
			return 0, p.bad(start, "expected '%c', got %s", prefix, quoteByte(line[0]))
		}
		digits := line[1:]
		if len(digits) > 0 && digits[len(digits)-1] == '\r' {
			digits = digits[:len(digits)-1]
		}
		if len(digits) > maxDigits {
			return 0, p.bad(start, "%s too long", kind)
		}
		for i, c := range digits {
			if c < '0' || c > '9' {
				return 0, p.bad(start+1+int64(i), "invalid %s character %s", kind, quoteByte(c))
			}
		}
		if err == io.EOF {
			return 0, p.short(start)
		}
		return 0, p.bad(start, "%s line too long", kind) // unreachable with maxDigits < buffer size
	default:
		return 0, err
	}
	if line[0] != prefix {
		if prefix == '*' {
			return 0, p.bad(start, "expected '*' at the start of a command, got %s", quoteByte(line[0]))
		}
		return 0, p.bad(start, "expected '$' at the start of an argument, got %s", quoteByte(line[0]))
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, p.bad(start, "%s line not terminated by CRLF", kind)
	}
	digits := line[1 : len(line)-2]
	if len(digits) == 0 {
		return 0, p.bad(start, "empty %s", kind)
	}
	if len(digits) > maxDigits {
		return 0, p.bad(start, "%s too long", kind)
	}
	var v int64
	for i, c := range digits {
		if c < '0' || c > '9' {
			return 0, p.bad(start+1+int64(i), "invalid %s %s", kind, strconv.Quote(string(digits)))
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

// crlf consumes the "\r\n" after a bulk argument.
func (p *cmdParser) crlf() error {
	b, err := p.br.Peek(2)
	if len(b) == 2 && b[0] == '\r' && b[1] == '\n' {
		p.br.Discard(2)
		p.off += 2
		return nil
	}
	if len(b) > 0 && b[0] != '\r' || len(b) == 2 {
		return p.bad(p.off, "argument not followed by CRLF")
	}
	if err == nil || err == io.EOF {
		return p.short(p.off)
	}
	return err
}

func quoteByte(c byte) string { return strconv.Quote(string([]byte{c})) }
