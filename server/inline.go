package server

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// splitInline splits an inline request line into arguments; see
// splitInlineInto. It allocates, and is meant for tests and tools.
func splitInline(line []byte) ([][]byte, bool) {
	buf, ends, ok := splitInlineInto(nil, nil, line)
	if !ok {
		return nil, false
	}
	var args [][]byte
	from := 0
	for _, end := range ends {
		args = append(args, buf[from:end:end])
		from = end
	}
	return args, true
}

// splitInlineInto splits an inline request line into arguments with the
// rules of Redis's sdssplitargs: blanks separate arguments; "double
// quotes" support \n \r \t \b \a \xHH and \<any> escapes; 'single quotes'
// support \' only; a closing quote must be followed by a blank or the end;
// a quote may also open in the middle of an argument (a"b c" is one
// argument). The unescaped arguments are appended to buf back to back and
// the end of each is appended to ends, so a connection reuses both and
// splitting allocates nothing. It reports false for unbalanced quotes.
func splitInlineInto(buf []byte, ends []int, line []byte) ([]byte, []int, bool) {
	i := 0
	at := func(k int) byte { // the byte at k, or 0 past the end (C string semantics)
		if k < len(line) {
			return line[k]
		}
		return 0
	}
	for {
		for i < len(line) && isCSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return buf, ends, true
		}
		inq, insq := false, false
	token:
		for {
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x':
					hi, ok1 := hexVal(at(i + 2))
					lo, ok2 := hexVal(at(i + 3))
					if ok1 && ok2 {
						buf = append(buf, hi<<4|lo)
						i += 4
						continue
					}
					buf = append(buf, 'x')
					i += 2
				case c == '\\' && at(i+1) != 0:
					e := at(i + 1)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					buf = append(buf, e)
					i += 2
				case c == '"':
					if n := at(i + 1); n != 0 && !isCSpace(n) {
						return buf, ends, false
					}
					i++
					break token
				case c == 0:
					return buf, ends, false
				default:
					buf = append(buf, c)
					i++
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					buf = append(buf, '\'')
					i += 2
				case c == '\'':
					if n := at(i + 1); n != 0 && !isCSpace(n) {
						return buf, ends, false
					}
					i++
					break token
				case c == 0:
					return buf, ends, false
				default:
					buf = append(buf, c)
					i++
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					if c != 0 {
						i++
					}
					break token
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					buf = append(buf, c)
				}
				i++
			}
		}
		ends = append(ends, len(buf))
	}
}
