package sqlcmd

import "strings"

// stmtKind is what the SQL layer must know about a statement beyond
// sqlite3_stmt_readonly, which reports transaction control as read-only.
type stmtKind uint8

const (
	kindOther stmtKind = iota
	// kindTxnEnd statements (COMMIT, END, RELEASE) may commit a write
	// transaction: they run under the execution lock.
	kindTxnEnd
	// kindBeginWrite (BEGIN IMMEDIATE/EXCLUSIVE) takes the writer lock
	// at once: it runs under the execution lock (so it waits for the
	// writer lock with the execution lock released) and is a write for
	// SQL.QUERY and replicas.
	kindBeginWrite
	// kindVacuumInto writes a copy of the database to a file: refused.
	kindVacuumInto
	// kindMayWrite statements claim to be read-only
	// (sqlite3_stmt_readonly) but can write through SQL they run
	// internally: PRAGMA optimize runs ANALYZE. They run under the
	// execution lock and are writes for SQL.QUERY and replicas.
	kindMayWrite
	// kindVacuum (plain VACUUM) attaches a private temporary database
	// internally, so it needs SQLITE_LIMIT_ATTACHED raised while it runs.
	kindVacuum
)

// classify looks at the leading keywords of one statement's text.
func classify(text []byte) stmtKind {
	t := tokenizer{s: text}
	switch first := t.keyword(); first {
	case "COMMIT", "END", "RELEASE":
		return kindTxnEnd
	case "BEGIN":
		switch t.keyword() {
		case "IMMEDIATE", "EXCLUSIVE":
			return kindBeginWrite
		}
	case "PRAGMA":
		name := t.name()
		t.skipSpace()
		if !t.done() && t.s[t.i] == '.' { // schema.pragma
			t.i++
			name = t.name()
		}
		if name == "OPTIMIZE" {
			return kindMayWrite
		}
	case "VACUUM":
		for {
			k := t.keyword()
			if k == "" && t.done() {
				return kindVacuum
			}
			if k == "INTO" {
				return kindVacuumInto
			}
		}
	}
	return kindOther
}

// tokenizer walks SQL text token by token, skipping comments and quoted
// text, enough to find keywords.
type tokenizer struct {
	s []byte
	i int
}

func (t *tokenizer) done() bool { return t.i >= len(t.s) }

// keyword returns the next token upper-cased if it is a bare word, or ""
// for any other token (string, number, punctuation) or at the end.
func (t *tokenizer) keyword() string {
	t.skipSpace()
	if t.done() {
		return ""
	}
	c := t.s[t.i]
	switch {
	case isIdentStart(c):
		start := t.i
		for t.i < len(t.s) && isIdentPart(t.s[t.i]) {
			t.i++
		}
		b := make([]byte, t.i-start)
		for j, ch := range t.s[start:t.i] {
			if 'a' <= ch && ch <= 'z' {
				ch -= 'a' - 'A'
			}
			b[j] = ch
		}
		return string(b)
	case c == '\'' || c == '"' || c == '`' || c == '[':
		end := c
		if c == '[' {
			end = ']'
		}
		t.i++
		for t.i < len(t.s) {
			if t.s[t.i] == end {
				t.i++
				// A doubled quote is an escaped quote.
				if end != ']' && t.i < len(t.s) && t.s[t.i] == end {
					t.i++
					continue
				}
				break
			}
			t.i++
		}
	default:
		t.i++
	}
	return ""
}

// name returns the next token upper-cased if it is a bare word or a
// quoted name ('x', "x", `x`, [x]: SQLite accepts them as pragma names),
// else "".
func (t *tokenizer) name() string {
	t.skipSpace()
	if t.done() {
		return ""
	}
	switch c := t.s[t.i]; c {
	case '\'', '"', '`', '[':
		start := t.i + 1
		t.keyword() // skips the quoted token
		end := t.i - 1
		if end < start {
			return ""
		}
		return strings.ToUpper(strings.ReplaceAll(string(t.s[start:end]), string([]byte{c, c}), string(c)))
	}
	return t.keyword()
}

func (t *tokenizer) skipSpace() {
	for t.i < len(t.s) {
		c := t.s[t.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			t.i++
		case c == '-' && t.i+1 < len(t.s) && t.s[t.i+1] == '-':
			for t.i < len(t.s) && t.s[t.i] != '\n' {
				t.i++
			}
		case c == '/' && t.i+1 < len(t.s) && t.s[t.i+1] == '*':
			t.i += 2
			for t.i < len(t.s) && !(t.s[t.i] == '*' && t.i+1 < len(t.s) && t.s[t.i+1] == '/') {
				t.i++
			}
			t.i += 2
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || ('0' <= c && c <= '9') || c == '$' }
