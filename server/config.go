package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/thredis/thredis/glob"
	"github.com/thredis/thredis/sqlcmd"
)

// Config is the server configuration: typed fields for what the server
// reads on hot paths, plus the directive registry behind CONFIG GET/SET,
// config files and CONFIG REWRITE. Directive names, types, bounds,
// defaults and error texts are Redis 7.0's (see directives.go); thredis's
// own directives start with "sql-".
//
// Plain fields are written at start-up, or by CONFIG SET with the execution
// lock held; values read by other goroutines (the accept loop, the cron,
// the request reader) are atomics.
type Config struct {
	server *Server

	Port      int
	Bind      []string
	Dir       string // absolute path
	Databases int
	LogLevel  string
	// File is the config file the server was started with ("" if none),
	// used by CONFIG REWRITE and INFO's config_file.
	File string

	requirePass     atomic.Pointer[string]
	protoMaxBulkLen atomic.Int64
	outputHardLimit atomic.Int64
	// minReplicasToWrite and minReplicasMaxLag mirror the directives for
	// the write path (min-replicas-to-write).
	minReplicasToWrite atomic.Int64
	minReplicasMaxLag  atomic.Int64
	queryBufLimit      atomic.Int64 // client-query-buffer-limit
	// rdbKeySaveDelay is rdb-key-save-delay, read for every key a
	// snapshot writes (a test changes it while a save runs).
	rdbKeySaveDelay   atomic.Int64
	tcpKeepAlive      atomic.Int64 // seconds; 0 = no keepalive probes
	slowlogSlowerThan atomic.Int64
	slowlogMaxLen     atomic.Int64
	hz                atomic.Int64
	maxClients        atomic.Int64
	protectedMode     atomic.Bool
	timeout           atomic.Int64 // seconds; 0 = never close idle clients
	maxmemory         atomic.Uint64
	levelVar          slog.LevelVar
	sqlDefaultKey     atomic.Pointer[string]
	// SQL holds the sql-* settings the SQL layer reads.
	SQL *sqlcmd.Config

	// debugCommand and protectedConfigs hold enable-debug-command and
	// enable-protected-configs ("no", "yes" or "local").
	debugCommand     string
	protectedConfigs string

	mu         sync.Mutex
	values     map[string]string // canonical value of every directive, by primary name
	dirs       map[string]*directive
	order      []*directive // declaration order (CONFIG REWRITE appends in this order)
	obuf       [obufClasses]obufLimit
	saveLoaded bool // a "save" line was read from a file or flag (see setSave)
	// given records the directives set by a config file or flag (Set),
	// so the CLI can pick defaults for what was left unsaid.
	given map[string]bool
}

// Directive kinds, following Redis's config types.
type dirKind uint8

const (
	kindBool dirKind = iota
	kindInt
	kindMemory
	kindString
	kindEnum
	kindSpecial
)

// Directive flags, following Redis's config flags.
type dirFlag uint16

const (
	fImmutable   dirFlag = 1 << iota // only settable at start-up
	fProtected                       // CONFIG SET needs enable-protected-configs
	fHidden                          // not matched by CONFIG GET patterns
	fMultiArg                        // the value is several space-separated words
	fSensitive                       // redacted in SLOWLOG
	fPercent                         // memory value that may also be "N%" (stored as -N)
	fOctal                           // integer written in octal
	fUnsigned                        // full unsigned 64-bit range (maxmemory)
	fEmptyIsNull                     // "" means unset: omitted by CONFIG REWRITE
	fMultiEnum                       // a set of enum words (shutdown-on-sigterm)
)

// directive describes one configuration directive.
type directive struct {
	name  string
	alias string
	kind  dirKind
	flags dirFlag
	def   string
	lo    int64
	hi    int64
	enum  []string
	// fix adjusts an in-range number (hz is capped like Redis does).
	fix func(int64) int64
	// check validates a string value beyond its type.
	check func(v string) error
	// parse validates a special directive's words and returns its
	// canonical value (what CONFIG GET shows).
	parse func(cfg *Config, args []string, runtime bool) (string, error)
	// apply wires a canonical value into the running server; nil means
	// "store only" (a tunable that does not apply to thredis's encodings
	// but is accepted like Redis).
	apply func(cfg *Config, val string) error
}

// SQLDefaultKey returns sql-default-key: the hash key SQL uses.
func (c *Config) SQLDefaultKey() string { return *c.sqlDefaultKey.Load() }

// DefaultConfig returns the defaults: port 6379 on 127.0.0.1, 16 databases,
// in-memory only, and every other directive at Redis 7.0's default.
func DefaultConfig() *Config {
	cfg := &Config{values: make(map[string]string), dirs: make(map[string]*directive), SQL: sqlcmd.DefaultConfig()}
	for _, d := range directives() {
		if cfg.dirs[d.name] != nil || (d.alias != "" && cfg.dirs[d.alias] != nil) {
			panic("config: duplicate directive " + d.name)
		}
		cfg.dirs[d.name] = d
		if d.alias != "" {
			cfg.dirs[d.alias] = d
		}
		cfg.order = append(cfg.order, d)
		val, err := cfg.parse(d, splitValue(d, d.def), false)
		if err == nil {
			err = cfg.apply(d, val)
		}
		if err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", d.name, err))
		}
	}
	cfg.saveLoaded = false
	return cfg
}

// splitValue turns a value string into the words a directive takes: one
// word, or the space-separated words of a multi-argument directive.
func splitValue(d *directive, val string) []string {
	if d.flags&fMultiArg == 0 {
		return []string{val}
	}
	return strings.Split(val, " ")
}

// lookup finds a directive by name or alias, case-insensitively.
func (cfg *Config) lookup(name string) *directive {
	return cfg.dirs[strings.ToLower(name)]
}

// parse validates words for d and returns the canonical value.
func (cfg *Config) parse(d *directive, args []string, runtime bool) (string, error) {
	if d.kind == kindSpecial {
		return d.parse(cfg, args, runtime)
	}
	if d.flags&fMultiEnum == 0 && len(args) != 1 {
		return "", errors.New("wrong number of arguments")
	}
	v := args[0]
	switch d.kind {
	case kindBool:
		b, err := parseBool(v)
		if err != nil {
			return "", err
		}
		out := "no"
		if b {
			out = "yes"
		}
		if d.check != nil {
			if err := d.check(out); err != nil {
				return "", err
			}
		}
		return out, nil
	case kindInt, kindMemory:
		return d.parseNumber(v)
	case kindEnum:
		if d.flags&fMultiEnum != 0 {
			return d.parseEnumSet(args)
		}
		for _, e := range d.enum {
			name, canon, _ := strings.Cut(e, "=")
			if strings.EqualFold(name, v) {
				if canon == "" {
					canon = name
				}
				return canon, nil
			}
		}
		return "", d.enumError()
	case kindString:
		if d.check != nil {
			if err := d.check(v); err != nil {
				return "", err
			}
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown directive type")
}

func (d *directive) enumError() error {
	names := make([]string, len(d.enum))
	for i, e := range d.enum {
		names[i], _, _ = strings.Cut(e, "=")
	}
	return errors.New("argument(s) must be one of the following: " + strings.Join(names, ", "))
}

// parseEnumSet parses a multi-word enum (shutdown-on-sigint): any mix of
// the words, "default" meaning none; shown in declaration order.
func (d *directive) parseEnumSet(args []string) (string, error) {
	set := map[string]bool{}
	for _, a := range args {
		found := false
		for _, e := range d.enum {
			if strings.EqualFold(e, a) {
				set[e] = true
				found = true
			}
		}
		if !found {
			return "", d.enumError()
		}
	}
	if set["save"] && set["nosave"] {
		return "", errors.New("shutdown options SAVE and NOSAVE can't be used simultaneously")
	}
	var out []string
	for _, e := range d.enum[1:] {
		if set[e] {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return d.enum[0], nil
	}
	return strings.Join(out, " "), nil
}

// parseNumber parses an integer, memory, percent or octal value with
// Redis's rules and error texts, and checks its bounds.
func (d *directive) parseNumber(v string) (string, error) {
	if d.flags&fUnsigned != 0 {
		u, ok := memToUint(v)
		if !ok {
			return "", errors.New("argument must be a memory value")
		}
		return strconv.FormatUint(u, 10), nil
	}
	var n int64
	parsed := false
	if d.kind == kindMemory {
		if u, ok := memToUint(v); ok {
			n, parsed = int64(u), true
		}
	}
	if !parsed && d.flags&fPercent != 0 && len(v) > 1 && v[len(v)-1] == '%' {
		if p, ok := parseInt([]byte(v[:len(v)-1])); ok && p >= 0 {
			n, parsed = -p, true
		}
	}
	if !parsed && d.flags&fOctal != 0 {
		if o, err := strconv.ParseInt(v, 8, 64); err == nil {
			n, parsed = o, true
		}
	}
	if !parsed && d.kind == kindInt && d.flags&fOctal == 0 {
		n, parsed = parseInt([]byte(v))
	}
	if !parsed {
		switch {
		case d.flags&fPercent != 0:
			return "", errors.New("argument must be a memory or percent value")
		case d.kind == kindMemory:
			return "", errors.New("argument must be a memory value")
		case d.flags&fOctal != 0:
			return "", errors.New("argument couldn't be parsed as an octal number")
		}
		return "", errors.New("argument couldn't be parsed into an integer")
	}
	if d.flags&fPercent != 0 && n < 0 {
		if n < d.lo {
			return "", fmt.Errorf("percentage argument must be less or equal to %d", -d.lo)
		}
	} else if n < d.lo || n > d.hi {
		if d.flags&fOctal != 0 {
			return "", fmt.Errorf("argument must be between %o and %o inclusive", d.lo, d.hi)
		}
		return "", fmt.Errorf("argument must be between %d and %d inclusive", d.lo, d.hi)
	}
	if d.fix != nil {
		n = d.fix(n)
	}
	if d.flags&fOctal != 0 {
		return strconv.FormatInt(n, 8), nil
	}
	if d.flags&fPercent != 0 && n < 0 {
		return strconv.FormatInt(-n, 10) + "%", nil
	}
	return strconv.FormatInt(n, 10), nil
}

// memToUint parses a Redis memory value ("100", "1k", "2mb", "1gb"; units
// are case-insensitive, k/m/g are powers of 1000 and kb/mb/gb of 1024), as
// memtoull does.
func memToUint(v string) (uint64, bool) {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	var mul uint64
	switch strings.ToLower(v[i:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if i == 0 {
		return 0, true // strtoull of "" is 0, which Redis accepts
	}
	// strtoull saturates on overflow and Redis does not check for it;
	// the product wraps like C's unsigned arithmetic.
	n, err := strconv.ParseUint(v[:i], 10, 64)
	if err != nil {
		n = math.MaxUint64
	}
	return n * mul, true
}

// apply wires and stores a canonical value.
func (cfg *Config) apply(d *directive, val string) error {
	if d.apply != nil {
		if err := d.apply(cfg, val); err != nil {
			return err
		}
	}
	cfg.mu.Lock()
	cfg.values[d.name] = val
	cfg.mu.Unlock()
	return nil
}

// Set applies a directive as a config file line or command-line flag does
// (no immutability check): name followed by its words. A multi-argument
// directive (save, bind, client-output-buffer-limit, ...) takes any number
// of words; the others exactly one.
func (cfg *Config) Set(name string, args ...string) error {
	d := cfg.lookup(name)
	if d == nil {
		return fmt.Errorf("unknown directive '%s'", name)
	}
	if d.flags&(fMultiArg|fMultiEnum) != 0 && len(args) == 1 {
		args = strings.Split(args[0], " ")
	}
	if d.flags&(fMultiArg|fMultiEnum) == 0 && len(args) != 1 {
		return errors.New("wrong number of arguments")
	}
	if d.flags&fMultiArg != 0 && len(args) == 0 {
		args = []string{""}
	}
	val, err := cfg.parse(d, args, false)
	if err != nil {
		return err
	}
	if err := cfg.apply(d, val); err != nil {
		return err
	}
	cfg.mu.Lock()
	if cfg.given == nil {
		cfg.given = make(map[string]bool)
	}
	cfg.given[d.name] = true
	cfg.mu.Unlock()
	return nil
}

// Given reports whether a directive (by name or alias) was set by a config
// file line or a flag (Set), rather than left at its default.
func (cfg *Config) Given(name string) bool {
	d := cfg.lookup(name)
	if d == nil {
		return false
	}
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	return cfg.given[d.name]
}

// configSetError is a CONFIG SET failure; Error is the reply text.
type configSetError string

func (e configSetError) Error() string { return string(e) }

// SetRuntime applies name/value pairs as CONFIG SET does: all or nothing,
// refusing unknown, immutable, protected and duplicate directives, with
// Redis's exact error texts. local reports whether the client is on a
// loopback connection (for enable-protected-configs local). Callers hold the
// execution lock.
func (cfg *Config) SetRuntime(local bool, pairs ...string) error {
	if len(pairs)%2 != 0 {
		return configSetError(errSyntax[4:])
	}
	n := len(pairs) / 2
	dirs := make([]*directive, n)
	var failName, failMsg string
	unknown := ""
	for i := 0; i < n; i++ {
		name := pairs[2*i]
		d := cfg.lookup(name)
		if d == nil {
			if unknown == "" {
				unknown = name
			}
			continue
		}
		if unknown != "" || failMsg != "" {
			continue
		}
		if d.flags&fImmutable != 0 {
			failName, failMsg = name, "can't set immutable config"
			continue
		}
		if d.flags&fProtected != 0 && !allowProtected(cfg.protectedConfigs, local) {
			failName, failMsg = name, "can't set protected config"
			continue
		}
		for j := 0; j < i; j++ {
			if dirs[j] == d {
				failName, failMsg = name, "duplicate parameter"
				break
			}
		}
		dirs[i] = d
	}
	if unknown != "" {
		return configSetError(fmt.Sprintf("Unknown option or number of arguments for CONFIG SET - '%s'", unknown))
	}
	if failMsg != "" {
		return configSetError(fmt.Sprintf("CONFIG SET failed (possibly related to argument '%s') - %s", failName, failMsg))
	}
	// Validate every value before changing anything, so a bad pair leaves
	// the configuration untouched.
	vals := make([]string, n)
	for i, d := range dirs {
		v, err := cfg.parse(d, splitValue(d, pairs[2*i+1]), true)
		if err != nil {
			return configSetError(fmt.Sprintf("CONFIG SET failed (possibly related to argument '%s') - %s", strings.ToLower(pairs[2*i]), err))
		}
		vals[i] = v
	}
	old := make([]string, n)
	for i, d := range dirs {
		old[i], _ = cfg.Get(d.name)
	}
	for i, d := range dirs {
		if vals[i] == old[i] {
			continue
		}
		if err := cfg.apply(d, vals[i]); err != nil {
			// Restore what was already applied, like Redis's
			// restoreBackupConfig.
			for j := i - 1; j >= 0; j-- {
				if vals[j] != old[j] {
					cfg.apply(dirs[j], old[j])
				}
			}
			return configSetError(fmt.Sprintf("CONFIG SET failed (possibly related to argument '%s') - %s", strings.ToLower(pairs[2*i]), err))
		}
	}
	return nil
}

// allowProtected reports whether a protected action is allowed by an
// enable-* setting ("yes", or "local" from a loopback client).
func allowProtected(setting string, local bool) bool {
	return setting == "yes" || (setting == "local" && local)
}

// Get returns a directive's current value (by name or alias) and whether
// the directive exists.
func (cfg *Config) Get(name string) (string, bool) {
	d := cfg.lookup(name)
	if d == nil {
		return "", false
	}
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	return cfg.values[d.name], true
}

// store records a directive's value that the server changed by itself
// (REPLICAOF updates replicaof), bypassing parsing and immutability.
func (cfg *Config) store(name, val string) {
	d := cfg.lookup(name)
	if d == nil {
		return
	}
	cfg.mu.Lock()
	cfg.values[d.name] = val
	cfg.mu.Unlock()
}

// Match returns the name/value pairs CONFIG GET replies with for the given
// patterns, sorted by name: a pattern without glob characters is an exact
// (case-insensitive) lookup that also finds hidden directives, echoing the
// name as given; a glob matches every visible name and alias.
func (cfg *Config) Match(patterns ...string) [][2]string {
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	seen := map[string]bool{}
	var out [][2]string
	for _, p := range patterns {
		if !strings.ContainsAny(p, "[*?") {
			d := cfg.dirs[strings.ToLower(p)]
			if d == nil || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, [2]string{p, cfg.values[d.name]})
			continue
		}
		for name, d := range cfg.dirs {
			if d.flags&fHidden != 0 || seen[name] {
				continue
			}
			if glob.Match([]byte(p), []byte(name), true) {
				seen[name] = true
				out = append(out, [2]string{name, cfg.values[d.name]})
			}
		}
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

// boolValue reports whether a yes/no directive is "yes".
func (cfg *Config) boolValue(name string) bool {
	v, _ := cfg.Get(name)
	return v == "yes"
}

// HZ returns the server cron frequency (hz, capped to 1..500 like Redis).
func (cfg *Config) HZ() int { return int(cfg.hz.Load()) }

// MaxClients returns the maxclients limit.
func (cfg *Config) MaxClients() int { return int(cfg.maxClients.Load()) }

// ProtectedMode reports whether protected-mode is on.
func (cfg *Config) ProtectedMode() bool { return cfg.protectedMode.Load() }

// LevelVar follows loglevel, so a logger built on it (slog.HandlerOptions
// Level) honours CONFIG SET loglevel at run time.
func (cfg *Config) LevelVar() *slog.LevelVar { return &cfg.levelVar }

// SensitiveDirective reports whether a directive's value must be hidden
// from SLOWLOG (requirepass, masterauth, masteruser).
func (cfg *Config) SensitiveDirective(name string) bool {
	d := cfg.lookup(name)
	return d != nil && d.flags&fSensitive != 0
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, errors.New("argument must be 'yes' or 'no'")
}

// mustInt parses a canonical integer value (already validated).
func mustInt(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// logLevel maps Redis's loglevel names onto slog levels.
func logLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "verbose":
		return slog.LevelDebug + 2
	case "warning":
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// Client output buffer limit classes, in Redis's order.
const (
	obufNormal = iota
	obufReplica
	obufPubsub
	obufClasses
)

// obufLimit is one client-output-buffer-limit class.
type obufLimit struct {
	hard, soft uint64
	softSecs   int64
}

var obufNames = [obufClasses]string{"normal", "slave", "pubsub"}

// parseOutputBufferLimit validates client-output-buffer-limit words and
// returns the full canonical value (classes not mentioned keep their
// current limits).
func parseOutputBufferLimit(cfg *Config, args []string, runtime bool) (string, error) {
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	if len(args)%4 != 0 {
		return "", errors.New("Wrong number of arguments in buffer limit configuration.")
	}
	cfg.mu.Lock()
	limits := cfg.obuf
	cfg.mu.Unlock()
	for i := 0; i < len(args); i += 4 {
		class := -1
		switch strings.ToLower(args[i]) {
		case "normal":
			class = obufNormal
		case "slave", "replica":
			class = obufReplica
		case "pubsub":
			class = obufPubsub
		}
		if class < 0 {
			return "", errors.New("Invalid client class specified in buffer limit configuration.")
		}
		hard, ok1 := memToUint(args[i+1])
		soft, ok2 := memToUint(args[i+2])
		secs, err := strconv.ParseInt(args[i+3], 10, 64)
		if !ok1 || !ok2 || err != nil || secs < 0 {
			return "", errors.New("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		limits[class] = obufLimit{hard: hard, soft: soft, softSecs: secs}
	}
	return formatOutputBufferLimits(limits), nil
}

func formatOutputBufferLimits(l [obufClasses]obufLimit) string {
	var b strings.Builder
	for i, x := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s %d %d %d", obufNames[i], x.hard, x.soft, x.softSecs)
	}
	return b.String()
}

// applyOutputBufferLimit stores the parsed classes and wires the normal
// class's hard limit into the reply path.
func applyOutputBufferLimit(cfg *Config, val string) error {
	f := strings.Fields(val)
	var l [obufClasses]obufLimit
	for i := 0; i+3 < len(f) && i/4 < obufClasses; i += 4 {
		hard, _ := strconv.ParseUint(f[i+1], 10, 64)
		soft, _ := strconv.ParseUint(f[i+2], 10, 64)
		secs, _ := strconv.ParseInt(f[i+3], 10, 64)
		l[i/4] = obufLimit{hard: hard, soft: soft, softSecs: secs}
	}
	cfg.mu.Lock()
	cfg.obuf = l
	cfg.mu.Unlock()
	hard := l[obufNormal].hard
	if hard > math.MaxInt64 {
		hard = math.MaxInt64
	}
	cfg.outputHardLimit.Store(int64(hard))
	return nil
}
