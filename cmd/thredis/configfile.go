package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/thredis/thredis/sdsquote"
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
		words, err := splitConfigLine(text)
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

// splitConfigLine splits a config line with Redis's quoting
// (sdsquote.Split), wording unbalanced quotes as Redis's config loader does.
func splitConfigLine(text string) ([]string, error) {
	words, err := sdsquote.Split(text)
	if errors.Is(err, sdsquote.ErrUnbalancedQuotes) {
		err = errors.New("unbalanced quotes in configuration line")
	}
	return words, err
}
