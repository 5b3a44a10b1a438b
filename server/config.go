package server

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/thredis/thredis/glob"
)

// Config is the server configuration: typed fields for what the server
// reads on hot paths, plus the directive registry behind CONFIG GET/SET,
// config files and CONFIG REWRITE. Directive names are Redis's.
//
// Fields are written only at start-up or by CONFIG SET (under the
// execution lock); those read outside the lock are atomics.
type Config struct {
	server *Server

	Port          int
	Bind          []string
	Dir           string
	Databases     int
	LogLevel      string
	Hz            int
	MaxClients    int
	ProtectedMode bool
	// File is the config file the server was started with ("" if none),
	// used by CONFIG REWRITE.
	File string

	requirePass       atomic.Pointer[string]
	protoMaxBulkLen   atomic.Int64
	outputHardLimit   atomic.Int64
	slowlogSlowerThan atomic.Int64
	slowlogMaxLen     atomic.Int64

	mu     sync.Mutex
	values map[string]string // current value of every directive, as CONFIG GET shows it
	dirs   map[string]*directive
}

// directive describes one configuration directive.
type directive struct {
	name      string
	alias     string
	def       string
	immutable bool // only settable at start-up
	// set validates and applies a value; nil means "store only" (a tunable
	// that does not apply to thredis's encodings but is accepted like Redis).
	set func(cfg *Config, val string) error
}

// DefaultConfig returns the defaults: port 6379 on 127.0.0.1, 16 databases,
// in-memory only.
func DefaultConfig() *Config {
	cfg := &Config{values: make(map[string]string), dirs: make(map[string]*directive)}
	for _, d := range directives() {
		cfg.dirs[d.name] = d
		if d.alias != "" {
			cfg.dirs[d.alias] = d
		}
		if err := cfg.apply(d, d.def); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", d.name, err))
		}
	}
	return cfg
}

func (cfg *Config) apply(d *directive, val string) error {
	if d.set != nil {
		if err := d.set(cfg, val); err != nil {
			return err
		}
	}
	cfg.mu.Lock()
	cfg.values[d.name] = val
	cfg.mu.Unlock()
	return nil
}

// Set applies a directive as a config file or command-line flag would (no
// immutability check). Values given as several words are joined by spaces.
func (cfg *Config) Set(name string, args ...string) error {
	d := cfg.dirs[strings.ToLower(name)]
	if d == nil {
		return fmt.Errorf("unknown directive '%s'", name)
	}
	return cfg.apply(d, strings.Join(args, " "))
}

// SetRuntime applies a directive as CONFIG SET does, refusing immutable ones.
func (cfg *Config) SetRuntime(name, val string) error {
	d := cfg.dirs[strings.ToLower(name)]
	if d == nil {
		return fmt.Errorf("Unknown option or number of arguments for CONFIG SET - '%s'", name)
	}
	if d.immutable {
		return fmt.Errorf("can't set immutable config")
	}
	return cfg.apply(d, val)
}

// Get returns a directive's current value.
func (cfg *Config) Get(name string) (string, bool) {
	d := cfg.dirs[strings.ToLower(name)]
	if d == nil {
		return "", false
	}
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	return cfg.values[d.name], true
}

// Match returns name/value pairs of directives matching a glob pattern
// (CONFIG GET), sorted by name.
func (cfg *Config) Match(pattern string) [][2]string {
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	seen := map[string]bool{}
	var out [][2]string
	for name, d := range cfg.dirs {
		if !glob.Match([]byte(strings.ToLower(pattern)), []byte(name), true) {
			continue
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, [2]string{name, cfg.values[d.name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// RequirePass returns the password of the default user ("" for none).
func (cfg *Config) RequirePass() string {
	if p := cfg.requirePass.Load(); p != nil {
		return *p
	}
	return ""
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("argument must be 'yes' or 'no'")
}

func parseIntRange(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("argument couldn't be parsed into an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
	}
	return n, nil
}

// parseMemory parses Redis memory values: "100", "1k", "1kb", "2mb", "1gb".
func parseMemory(v string) (int64, error) {
	s := strings.ToLower(v)
	mul := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"kb", 1024}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}} {
		if strings.HasSuffix(s, u.suf) {
			mul = u.m
			s = strings.TrimSuffix(s, u.suf)
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("argument must be a memory value")
	}
	return n * mul, nil
}

// directives lists every directive thredis knows. Core ones are wired to
// typed fields; the rest are Redis 7.0 tunables that are validated loosely
// and stored.
func directives() []*directive {
	return []*directive{
		{name: "port", def: "6379", immutable: true, set: func(c *Config, v string) error {
			n, err := parseIntRange(v, 0, 65535)
			c.Port = int(n)
			return err
		}},
		{name: "bind", def: "127.0.0.1", immutable: true, set: func(c *Config, v string) error {
			c.Bind = strings.Fields(v)
			return nil
		}},
		{name: "dir", def: ".", set: func(c *Config, v string) error {
			c.Dir = v
			return nil
		}},
		{name: "databases", def: "16", immutable: true, set: func(c *Config, v string) error {
			n, err := parseIntRange(v, 1, 1<<20)
			c.Databases = int(n)
			return err
		}},
		{name: "loglevel", def: "notice", set: func(c *Config, v string) error {
			switch v {
			case "debug", "verbose", "notice", "warning", "nothing":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("argument(s) must be one of the following: debug, verbose, notice, warning, nothing")
		}},
		{name: "hz", def: "10", set: func(c *Config, v string) error {
			n, err := parseIntRange(v, 1, 500)
			c.Hz = int(n)
			return err
		}},
		{name: "maxclients", def: "10000", set: func(c *Config, v string) error {
			n, err := parseIntRange(v, 1, 1<<31-1)
			c.MaxClients = int(n)
			return err
		}},
		{name: "protected-mode", def: "yes", set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.ProtectedMode = b
			return err
		}},
		{name: "requirepass", def: "", set: func(c *Config, v string) error {
			c.requirePass.Store(&v)
			return nil
		}},
		{name: "proto-max-bulk-len", def: "536870912", set: func(c *Config, v string) error {
			n, err := parseMemory(v)
			if err == nil && n < 1024*1024 {
				err = fmt.Errorf("argument must be a memory value bigger than 1mb")
			}
			c.protoMaxBulkLen.Store(n)
			return err
		}},
		{name: "slowlog-log-slower-than", def: "10000", set: func(c *Config, v string) error {
			n, err := parseIntRange(v, -1, 1<<62)
			c.slowlogSlowerThan.Store(n)
			return err
		}},
		{name: "slowlog-max-len", def: "128", set: func(c *Config, v string) error {
			n, err := parseIntRange(v, 0, 1<<31-1)
			c.slowlogMaxLen.Store(n)
			return err
		}},
		{name: "client-output-buffer-limit", def: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", set: func(c *Config, v string) error {
			f := strings.Fields(v)
			if len(f)%4 != 0 {
				return fmt.Errorf("Wrong number of arguments in buffer limit configuration.")
			}
			for i := 0; i < len(f); i += 4 {
				class := strings.ToLower(f[i])
				switch class {
				case "normal", "slave", "replica", "pubsub":
				default:
					return fmt.Errorf("Invalid client class specified in buffer limit configuration.")
				}
				hard, err1 := parseMemory(f[i+1])
				_, err2 := parseMemory(f[i+2])
				_, err3 := strconv.ParseInt(f[i+3], 10, 64)
				if err1 != nil || err2 != nil || err3 != nil {
					return fmt.Errorf("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
				}
				if class == "normal" {
					c.outputHardLimit.Store(hard)
				}
			}
			return nil
		}},
	}
}
