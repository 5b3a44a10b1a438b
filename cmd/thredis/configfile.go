package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/thredis/thredis/server"
)

// maxIncludeDepth bounds nested "include" directives so a file that
// includes itself is an error rather than a stack overflow.
const maxIncludeDepth = 16

// loadConfigFile applies a redis.conf-syntax file: one "directive value…"
// per line, '#' comments, double- or single-quoted arguments with escapes,
// and "include PATH" (a glob, as in Redis 7) to read other files in place.
// An unknown directive or bad value is an error naming the file and line.
func loadConfigFile(cfg *server.Config, path string) error {
	return loadConfig(cfg, path, 0)
}

func loadConfig(cfg *server.Config, path string, depth int) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open config file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		words, err := splitArgs(text)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(words) == 0 {
			continue
		}
		name := strings.ToLower(words[0])
		if name == "include" {
			if err := include(cfg, path, line, words[1:], depth); err != nil {
				return err
			}
			continue
		}
		if _, known := cfg.Get(name); !known {
			return fmt.Errorf("%s:%d: unknown directive '%s'", path, line, words[0])
		}
		if err := cfg.Set(name, words[1:]...); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, line, quoteDirective(cfg, words[0], words[1:]), err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read config file %s: %w", path, err)
	}
	return nil
}

// include loads the files an "include" directive names, in sorted order;
// a pattern that matches nothing is an error, as for a missing file.
func include(cfg *server.Config, path string, line int, args []string, depth int) error {
	if len(args) != 1 {
		return fmt.Errorf("%s:%d: include: wrong number of arguments", path, line)
	}
	if depth >= maxIncludeDepth {
		return fmt.Errorf("%s:%d: include: nested too deeply (more than %d levels)", path, line, maxIncludeDepth)
	}
	matches, err := filepath.Glob(args[0])
	if err != nil {
		return fmt.Errorf("%s:%d: include %s: %w", path, line, args[0], err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("%s:%d: include %s: no such file", path, line, args[0])
	}
	for _, m := range matches {
		if err := loadConfig(cfg, m, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// quoteDirective renders a directive and its values for an error message,
// as Redis echoes the offending line; values of sensitive directives
// (passwords) are left out.
func quoteDirective(cfg *server.Config, name string, values []string) string {
	if cfg.SensitiveDirective(strings.TrimPrefix(name, "--")) {
		return name + " ..."
	}
	parts := []string{name}
	for _, v := range values {
		if v == "" || strings.ContainsAny(v, " \t\"'") {
			v = strconv.Quote(v)
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, " ")
}

// splitArgs splits a config line like Redis's sdssplitargs: whitespace
// separated words, "double quotes" with \n \r \t \xHH escapes, 'single
// quotes' with only \' escaped. A closing quote must be followed by a space.
func splitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var cur strings.Builder
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, fmt.Errorf("unbalanced quotes in configuration line")
				}
				ch := line[i]
				if ch == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					cur.WriteByte(hexVal(line[i+2])<<4 | hexVal(line[i+3]))
					i += 4
					continue
				}
				if ch == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						cur.WriteByte('\n')
					case 'r':
						cur.WriteByte('\r')
					case 't':
						cur.WriteByte('\t')
					case 'b':
						cur.WriteByte('\b')
					case 'a':
						cur.WriteByte('\a')
					default:
						cur.WriteByte(line[i])
					}
					i++
					continue
				}
				if ch == '"' {
					i++
					if i < len(line) && line[i] != ' ' && line[i] != '\t' {
						return nil, fmt.Errorf("closing quote must be followed by a space")
					}
					break
				}
				cur.WriteByte(ch)
				i++
			}
		case '\'':
			i++
			for {
				if i >= len(line) {
					return nil, fmt.Errorf("unbalanced quotes in configuration line")
				}
				ch := line[i]
				if ch == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					cur.WriteByte('\'')
					i += 2
					continue
				}
				if ch == '\'' {
					i++
					if i < len(line) && line[i] != ' ' && line[i] != '\t' {
						return nil, fmt.Errorf("closing quote must be followed by a space")
					}
					break
				}
				cur.WriteByte(ch)
				i++
			}
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				cur.WriteByte(line[i])
				i++
			}
		}
		out = append(out, cur.String())
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
