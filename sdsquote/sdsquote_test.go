package sdsquote

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{"", nil, nil},
		{" \t\r\n\v\f", nil, nil},
		{"port 6379", []string{"port", "6379"}, nil},
		{"a b  c", []string{"a", "b", "c"}, nil},
		{"save   900 1\t300 10", []string{"save", "900", "1", "300", "10"}, nil},
		{"  lead trail  ", []string{"lead", "trail"}, nil},
		{`requirepass "a b"`, []string{"requirepass", "a b"}, nil},
		{`requirepass ""`, []string{"requirepass", ""}, nil},
		{`''`, []string{""}, nil},
		{`"a b" 'c d'`, []string{"a b", "c d"}, nil},
		{`x "tab\there\nnl \x41\x7a \"q\" \\"`, []string{"x", "tab\there\nnl Az \"q\" \\"}, nil},
		{`"\x41\x4a\n\t\"\\\q"`, []string{"AJ\n\t\"\\q"}, nil},
		{`"\r\b\a\xff\x00\xAb"`, []string{"\r\b\a\xff\x00\xab"}, nil},
		{`"\x4"`, []string{"x4"}, nil},   // \x without two hex digits is \<any>
		{`"\xZZ"`, []string{"xZZ"}, nil}, // likewise
		{`"\'"`, []string{"'"}, nil},
		{`x 'it\'s' 'raw\n'`, []string{"x", "it's", `raw\n`}, nil},
		{`'a\\b'`, []string{`a\\b`}, nil},
		{`'"'`, []string{`"`}, nil},
		{`"'"`, []string{`'`}, nil},
		// Quotes may open mid-word; the word goes on until the closing quote.
		{`ab"cd"`, []string{"abcd"}, nil},
		{`a"b c" d`, []string{"ab c", "d"}, nil},
		{`a'b c'`, []string{"ab c"}, nil},
		// An unquoted word ends only at space, \t, \n, \r (not \v or \f)...
		{"a\vb\fc", []string{"a\vb\fc"}, nil},
		{"a\rb\nc", []string{"a", "b", "c"}, nil},
		// ...but any isspace separates words and may follow a closing quote.
		{"a \vb", []string{"a", "b"}, nil},
		{"\"a\"\vb", []string{"a", "b"}, nil},
		{"'a'\fb", []string{"a", "b"}, nil},
		{"\"a\"\r\n", []string{"a"}, nil},
		// A NUL ends the line, as for a C string.
		{"a b\x00c d", []string{"a", "b"}, nil},
		{"a\x00", []string{"a"}, nil},
		{"\x00a", nil, nil},
		{"\"a\x00\"", nil, ErrUnbalancedQuotes},
		{`"a\` + "\x00" + `"`, nil, ErrUnbalancedQuotes},
		{"\"a\"\x00b", []string{"a"}, nil},
		// Errors.
		{`x "open`, nil, ErrUnbalancedQuotes},
		{`x 'open`, nil, ErrUnbalancedQuotes},
		{`"abc\"`, nil, ErrUnbalancedQuotes},
		{`"abc\`, nil, ErrUnbalancedQuotes},
		{`'abc\'`, nil, ErrUnbalancedQuotes},
		{`"`, nil, ErrUnbalancedQuotes},
		{`x "a"b`, nil, ErrClosingQuote},
		{`x 'a'b`, nil, ErrClosingQuote},
		{`"a""b"`, nil, ErrClosingQuote},
		{`'a'"b"`, nil, ErrClosingQuote},
	} {
		got, err := Split(tc.in)
		if err != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestRepr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{"a b", `"a b"`},
		{`a"b\c'd`, `"a\"b\\c'd"`},
		// Redis's own sdscatrepr test.
		{"\a\n\x00foo\r", `"\a\n\x00foo\r"`},
		{"\t\b\x7f\x1f\x80\xff~ ", `"\t\b\x7f\x1f\x80\xff~ "`},
	} {
		if got := Repr(tc.in); got != tc.want {
			t.Errorf("Repr(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if got := string(AppendRepr([]byte("x"), []byte(tc.in))); got != "x"+tc.want {
			t.Errorf("AppendRepr(x, %q) = %s, want x%s", tc.in, got, tc.want)
		}
	}
}

func TestNeedsRepr(t *testing.T) {
	for in, want := range map[string]bool{
		"":                          false,
		"appendonly.aof.1.incr.aof": false,
		"it's":                      false, // like Redis: the single quote is not checked
		"a b":                       true,
		`a"b`:                       true,
		`a\b`:                       true,
		"a\tb":                      true,
		"a\vb":                      true,
		"a\x00b":                    true,
		"a\x7fb":                    true,
		"caf\xc3\xa9":               true,
	} {
		if got := NeedsRepr(in); got != want {
			t.Errorf("NeedsRepr(%q) = %v, want %v", in, got, want)
		}
	}
}

// checkRoundTrip checks that Repr(s) splits back to exactly s, alone and
// among other words.
func checkRoundTrip(t *testing.T, s string) {
	t.Helper()
	r := Repr(s)
	got, err := Split(r)
	if err != nil || len(got) != 1 || got[0] != s {
		t.Fatalf("Split(Repr(%q)) = Split(%s) = %q, %v", s, r, got, err)
	}
	line := "a " + r + "\t" + r + " b"
	got, err = Split(line)
	if want := []string{"a", s, s, "b"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Split(%q) = %q, %v; want %q", line, got, err, want)
	}
	if !NeedsRepr(s) && s != "" && !containsByte(s, '\'') {
		if got, err := Split(s); err != nil || len(got) != 1 || got[0] != s {
			t.Fatalf("NeedsRepr(%q) is false but Split gives %q, %v", s, got, err)
		}
	}
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "\\\"'xX0aF \t\n\r\v\f\a\b\x00\x7f\xff"
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(24))
		for j := range b {
			if r.IntN(2) == 0 {
				b[j] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[j] = byte(r.IntN(256))
			}
		}
		checkRoundTrip(t, string(b))
	}
	for c := 0; c < 256; c++ {
		checkRoundTrip(t, string([]byte{byte(c)}))
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"", "port 6379", `"a b" 'c d'`, `"\x41\n\\\"" x`, `'it\'s'`, `ab"cd"`,
		`"open`, `'a'b`, "a\vb \"c\"\f", "a\x00b", `"\x4`, `"\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Split(s)
		if err == nil {
			// Quoting each word and splitting again gives the same words.
			var line []byte
			for i, w := range words {
				if i > 0 {
					line = append(line, ' ')
				}
				line = AppendRepr(line, w)
			}
			again, err := Split(string(line))
			if err != nil || len(again) != len(words) || (len(words) > 0 && !reflect.DeepEqual(again, words)) {
				t.Fatalf("Split(%q) = %q; requoted %q splits to %q, %v", s, words, line, again, err)
			}
		} else if words != nil {
			t.Fatalf("Split(%q) = %q with error %v", s, words, err)
		}
		checkRoundTrip(t, s)
	})
}
