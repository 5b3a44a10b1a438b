package server

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Integer bounds used by Redis's config table.
const (
	intMax  = math.MaxInt32
	intMin  = math.MinInt32
	uintMax = math.MaxUint32
	longMax = math.MaxInt64
)

// Constructors for the common directive shapes; they keep the table below
// as compact and comparable with Redis's config.c as possible.

func boolDir(name, alias string, flags dirFlag, def bool) *directive {
	d := &directive{name: name, alias: alias, kind: kindBool, flags: flags, def: "no"}
	if def {
		d.def = "yes"
	}
	return d
}

func intDir(name, alias string, flags dirFlag, lo, hi, def int64) *directive {
	return &directive{name: name, alias: alias, kind: kindInt, flags: flags, lo: lo, hi: hi, def: strconv.FormatInt(def, 10)}
}

func memDir(name, alias string, flags dirFlag, lo, hi, def int64) *directive {
	return &directive{name: name, alias: alias, kind: kindMemory, flags: flags, lo: lo, hi: hi, def: strconv.FormatInt(def, 10)}
}

func strDir(name, alias string, flags dirFlag, def string) *directive {
	return &directive{name: name, alias: alias, kind: kindString, flags: flags, def: def}
}

func enumDir(name string, flags dirFlag, def string, values ...string) *directive {
	return &directive{name: name, kind: kindEnum, flags: flags, def: def, enum: values}
}

func specialDir(name, alias string, flags dirFlag, def string, parse func(*Config, []string, bool) (string, error)) *directive {
	return &directive{name: name, alias: alias, kind: kindSpecial, flags: flags, def: def, parse: parse}
}

// with attaches an apply function (the directive is wired, not only stored).
func (d *directive) with(apply func(cfg *Config, val string) error) *directive {
	d.apply = apply
	return d
}

// checked attaches a value check.
func (d *directive) checked(check func(string) error) *directive {
	d.check = check
	return d
}

// directives lists every directive Redis 7.0 knows (CONFIG GET * of
// redis-server 7.0.15, plus its hidden test directives), with Redis's
// types, bounds, defaults and mutability. Directives that drive thredis
// are wired through apply; the rest are validated by type and stored, so
// a redis.conf written for Redis loads unchanged and CONFIG GET/SET/REWRITE
// round-trip them.
func directives() []*directive {
	return []*directive{
		// Networking and clients (wired).
		intDir("port", "", 0, 0, 65535, 6379).with(applyPort),
		specialDir("bind", "", fMultiArg, "127.0.0.1", parseBind).with(applyBind),
		intDir("timeout", "", 0, 0, intMax, 0).with(func(c *Config, v string) error {
			c.timeout.Store(mustInt(v))
			return nil
		}),
		intDir("tcp-keepalive", "", 0, 0, intMax, 300).with(func(c *Config, v string) error {
			c.tcpKeepAlive.Store(mustInt(v))
			return nil
		}),
		intDir("tcp-backlog", "", fImmutable, 0, intMax, 511),
		boolDir("protected-mode", "", 0, true).with(func(c *Config, v string) error {
			c.protectedMode.Store(v == "yes")
			return nil
		}),
		intDir("maxclients", "", 0, 1, uintMax, 10000).with(func(c *Config, v string) error {
			c.maxClients.Store(mustInt(v))
			return nil
		}),
		strDir("requirepass", "", fSensitive|fEmptyIsNull, "").with(func(c *Config, v string) error {
			c.requirePass.Store(&v)
			return nil
		}),
		memDir("proto-max-bulk-len", "", 0, 1024*1024, longMax, 512*1024*1024).with(func(c *Config, v string) error {
			c.protoMaxBulkLen.Store(mustInt(v))
			return nil
		}),
		memDir("client-query-buffer-limit", "", 0, 1024*1024, longMax, 1024*1024*1024).with(func(c *Config, v string) error {
			c.queryBufLimit.Store(mustInt(v))
			return nil
		}),
		specialDir("client-output-buffer-limit", "", fMultiArg,
			"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", parseOutputBufferLimit).with(applyOutputBufferLimit),
		memDir("maxmemory-clients", "", fPercent, -100, longMax, 0),
		strDir("unixsocket", "", fImmutable|fEmptyIsNull, ""),
		intDir("unixsocketperm", "", fImmutable|fOctal, 0, 0777, 0),
		intDir("socket-mark-id", "", fImmutable, 0, uintMax, 0),
		strDir("bind-source-addr", "", fEmptyIsNull, ""),
		intDir("io-threads", "", fImmutable, 1, 128, 1),
		boolDir("io-threads-do-reads", "", fImmutable, false),

		// General (wired where thredis has the feature).
		intDir("databases", "", fImmutable, 1, intMax, 16).with(func(c *Config, v string) error {
			c.Databases = int(mustInt(v))
			return nil
		}),
		specialDir("dir", "", fProtected, ".", parseDir).with(func(c *Config, v string) error {
			c.Dir = v
			return nil
		}),
		enumDir("loglevel", 0, "notice", "debug", "verbose", "notice", "warning").with(func(c *Config, v string) error {
			c.LogLevel = v
			c.levelVar.Set(logLevel(v))
			return nil
		}),
		strDir("logfile", "", fImmutable, ""),
		intDir("hz", "", 0, 0, intMax, 10).with(func(c *Config, v string) error {
			c.hz.Store(mustInt(v))
			return nil
		}).fixed(func(n int64) int64 { return min(max(n, 1), 500) }),
		boolDir("dynamic-hz", "", 0, true),
		intDir("slowlog-log-slower-than", "", 0, -1, longMax, 10000).with(func(c *Config, v string) error {
			c.slowlogSlowerThan.Store(mustInt(v))
			return nil
		}),
		intDir("slowlog-max-len", "", 0, 0, longMax, 128).with(func(c *Config, v string) error {
			c.slowlogMaxLen.Store(mustInt(v))
			return nil
		}),
		enumDir("enable-debug-command", fImmutable, "no", "no", "yes", "local").with(func(c *Config, v string) error {
			c.debugCommand = v
			return nil
		}),
		enumDir("enable-protected-configs", fImmutable, "no", "no", "yes", "local").with(func(c *Config, v string) error {
			c.protectedConfigs = v
			return nil
		}),
		enumDir("enable-module-command", fImmutable, "no", "no", "yes", "local"),
		boolDir("daemonize", "", fImmutable, false),
		strDir("pidfile", "", fImmutable|fEmptyIsNull, ""),
		enumDir("supervised", fImmutable, "no", "upstart", "systemd", "auto", "no"),
		boolDir("syslog-enabled", "", fImmutable, false),
		strDir("syslog-ident", "", fImmutable, "redis"),
		enumDir("syslog-facility", fImmutable, "local0", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"),
		boolDir("always-show-logo", "", fImmutable, false),
		boolDir("set-proc-title", "", fImmutable, true),
		strDir("proc-title-template", "", 0, "{title} {listen-addr} {server-mode}").checked(checkProcTitleTemplate),
		boolDir("crash-log-enabled", "", 0, true),
		boolDir("crash-memcheck-enabled", "", 0, true),
		boolDir("disable-thp", "", fImmutable, true),
		strDir("ignore-warnings", "", 0, ""),
		intDir("shutdown-timeout", "", 0, 0, intMax, 10),
		&directive{name: "shutdown-on-sigint", kind: kindEnum, flags: fMultiArg | fMultiEnum, def: "default", enum: []string{"default", "save", "nosave", "now", "force"}},
		&directive{name: "shutdown-on-sigterm", kind: kindEnum, flags: fMultiArg | fMultiEnum, def: "default", enum: []string{"default", "save", "nosave", "now", "force"}},
		strDir("server_cpulist", "", fImmutable|fEmptyIsNull, ""),
		strDir("bio_cpulist", "", fImmutable|fEmptyIsNull, ""),
		strDir("aof_rewrite_cpulist", "", fImmutable|fEmptyIsNull, ""),
		strDir("bgsave_cpulist", "", fImmutable|fEmptyIsNull, ""),
		enumDir("oom-score-adj", 0, "no", "no", "yes", "relative=yes", "absolute"),
		specialDir("oom-score-adj-values", "", fMultiArg, "0 200 800", parseOOMScoreAdjValues),
		boolDir("jemalloc-bg-thread", "", 0, true),
		specialDir("notify-keyspace-events", "", 0, "", parseNotifyKeyspaceEvents),
		intDir("watchdog-period", "", fHidden, 0, intMax, 0),
		boolDir("use-exit-on-panic", "", fHidden, false),

		// Security.
		strDir("aclfile", "", fImmutable, ""),
		intDir("acllog-max-len", "", 0, 0, longMax, 128),
		enumDir("acl-pubsub-default", 0, "resetchannels", "allchannels", "resetchannels"),

		// Memory management.
		memDir("maxmemory", "", fUnsigned, 0, 0, 0).with(func(c *Config, v string) error {
			n, _ := strconv.ParseUint(v, 10, 64)
			c.maxmemory.Store(n)
			return nil
		}),
		enumDir("maxmemory-policy", 0, "noeviction", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
			"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction").with(accessTrackingHook("maxmemory-policy")),
		intDir("maxmemory-samples", "", 0, 1, intMax, 5),
		intDir("maxmemory-eviction-tenacity", "", 0, 0, 100, 10),
		boolDir("replica-ignore-maxmemory", "slave-ignore-maxmemory", 0, true),
		boolDir("lazyfree-lazy-eviction", "", 0, false),
		boolDir("lazyfree-lazy-expire", "", 0, false),
		boolDir("lazyfree-lazy-server-del", "", 0, false),
		boolDir("lazyfree-lazy-user-del", "", 0, false),
		boolDir("lazyfree-lazy-user-flush", "", 0, false),
		intDir("lfu-log-factor", "", 0, 0, intMax, 10).with(accessTrackingHook("lfu-log-factor")),
		intDir("lfu-decay-time", "", 0, 0, intMax, 1).with(accessTrackingHook("lfu-decay-time")),
		intDir("active-expire-effort", "", 0, 1, 10, 1),
		boolDir("activerehashing", "", 0, true),
		// thredis has no allocator-level defragmentation, so enabling it
		// fails exactly as on a Redis built without jemalloc's support.
		boolDir("activedefrag", "", 0, false).checked(func(v string) error {
			if v == "yes" {
				return errors.New("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution")
			}
			return nil
		}),
		memDir("active-defrag-ignore-bytes", "", 0, 1, longMax, 100<<20),
		intDir("active-defrag-threshold-lower", "", 0, 0, 1000, 10),
		intDir("active-defrag-threshold-upper", "", 0, 0, 1000, 100),
		intDir("active-defrag-cycle-min", "", 0, 1, 99, 1),
		intDir("active-defrag-cycle-max", "", 0, 1, 99, 25),
		intDir("active-defrag-max-scan-fields", "", 0, 1, longMax, 1000),

		// Encodings (stored: thredis's encodings do not use them).
		intDir("hash-max-listpack-entries", "hash-max-ziplist-entries", 0, 0, longMax, 512),
		memDir("hash-max-listpack-value", "hash-max-ziplist-value", 0, 0, longMax, 64),
		intDir("list-max-listpack-size", "list-max-ziplist-size", 0, intMin, intMax, -2),
		intDir("list-compress-depth", "", 0, 0, intMax, 0),
		intDir("set-max-intset-entries", "", 0, 0, longMax, 512),
		intDir("zset-max-listpack-entries", "zset-max-ziplist-entries", 0, 0, longMax, 128),
		memDir("zset-max-listpack-value", "zset-max-ziplist-value", 0, 0, longMax, 64),
		memDir("hll-sparse-max-bytes", "", 0, 0, longMax, 3000),
		memDir("stream-node-max-bytes", "", 0, 0, longMax, 4096),
		intDir("stream-node-max-entries", "", 0, 0, longMax, 100),
		intDir("tracking-table-max-keys", "", 0, 0, longMax, 1000000),

		// Snapshotting (persist.go).
		specialDir("save", "", fMultiArg, "3600 1 300 100 60 10000", parseSave),
		boolDir("stop-writes-on-bgsave-error", "", 0, true),
		boolDir("rdbcompression", "", 0, true),
		boolDir("rdbchecksum", "", fImmutable, true),
		strDir("dbfilename", "", fProtected, "dump.rdb").checked(func(v string) error {
			if !isBaseName(v) {
				return errors.New("dbfilename can't be a path, just a filename")
			}
			return nil
		}),
		boolDir("rdb-del-sync-files", "", 0, false),
		boolDir("rdb-save-incremental-fsync", "", 0, true),
		enumDir("sanitize-dump-payload", 0, "no", "no", "yes", "clients"),
		intDir("rdb-key-save-delay", "", fHidden, intMin, intMax, 0).with(func(c *Config, v string) error {
			c.rdbKeySaveDelay.Store(mustInt(v))
			return nil
		}),
		intDir("key-load-delay", "", fHidden, intMin, intMax, 0),
		intDir("loading-process-events-interval-bytes", "", fHidden, 1024, intMax, 2*1024*1024),

		// Append only file (aof.go).
		boolDir("appendonly", "", 0, false).with(func(c *Config, v string) error {
			if c.server == nil {
				return nil // start-up: LoadData reads it
			}
			return c.server.applyAppendOnly(v == "yes")
		}),
		strDir("appendfilename", "", fImmutable, "appendonly.aof").checked(func(v string) error {
			if v == "" {
				return errors.New("appendfilename can't be empty")
			}
			if !isBaseName(v) {
				return errors.New("appendfilename can't be a path, just a filename")
			}
			return nil
		}),
		strDir("appenddirname", "", fImmutable, "appendonlydir").checked(func(v string) error {
			if v == "" {
				return errors.New("appenddirname can't be empty")
			}
			if !isBaseName(v) {
				return errors.New("appenddirname can't be a path, just a dirname")
			}
			return nil
		}),
		enumDir("appendfsync", 0, "everysec", "everysec", "always", "no").with(func(c *Config, v string) error {
			if c.server == nil {
				return nil
			}
			return c.server.applyAppendFsync(v)
		}),
		boolDir("no-appendfsync-on-rewrite", "", 0, false),
		intDir("auto-aof-rewrite-percentage", "", 0, 0, intMax, 100),
		memDir("auto-aof-rewrite-min-size", "", 0, 0, longMax, 64*1024*1024),
		boolDir("aof-load-truncated", "", 0, true),
		boolDir("aof-use-rdb-preamble", "", 0, true),
		boolDir("aof-rewrite-incremental-fsync", "", 0, true),
		boolDir("aof-timestamp-enabled", "", 0, false),
		boolDir("aof-disable-auto-gc", "", 0, false),

		// Replication (repl_master.go, repl_replica.go).
		specialDir("replicaof", "slaveof", fImmutable|fMultiArg, "", parseReplicaOf),
		strDir("masterauth", "", fSensitive|fEmptyIsNull, ""),
		strDir("masteruser", "", fSensitive|fEmptyIsNull, ""),
		boolDir("replica-serve-stale-data", "slave-serve-stale-data", 0, true),
		boolDir("replica-read-only", "slave-read-only", 0, true).with(func(c *Config, v string) error {
			if c.server != nil {
				c.server.applyReplicaReadOnly(v == "yes")
			}
			return nil
		}),
		boolDir("repl-diskless-sync", "", 0, true),
		intDir("repl-diskless-sync-delay", "", 0, 0, intMax, 5),
		intDir("repl-diskless-sync-max-replicas", "", 0, 0, intMax, 0),
		enumDir("repl-diskless-load", 0, "disabled", "disabled", "on-empty-db", "swapdb"),
		intDir("repl-ping-replica-period", "repl-ping-slave-period", 0, 1, intMax, 10),
		intDir("repl-timeout", "", 0, 1, intMax, 60),
		boolDir("repl-disable-tcp-nodelay", "", 0, false),
		memDir("repl-backlog-size", "", 0, 1, longMax, 1024*1024).with(func(c *Config, v string) error {
			if c.server != nil {
				c.server.resizeBacklog(mustInt(v))
			}
			return nil
		}),
		intDir("repl-backlog-ttl", "", 0, 0, longMax, 3600),
		intDir("replica-priority", "slave-priority", 0, 0, intMax, 100),
		boolDir("replica-announced", "", 0, true),
		boolDir("replica-lazy-flush", "slave-lazy-flush", 0, false),
		boolDir("replica-ignore-disk-write-errors", "", 0, false),
		strDir("replica-announce-ip", "slave-announce-ip", fEmptyIsNull, ""),
		intDir("replica-announce-port", "slave-announce-port", 0, 0, 65535, 0),
		intDir("min-replicas-to-write", "min-slaves-to-write", 0, 0, intMax, 0).with(func(c *Config, v string) error {
			c.minReplicasToWrite.Store(mustInt(v))
			return nil
		}),
		intDir("min-replicas-max-lag", "min-slaves-max-lag", 0, 0, intMax, 10).with(func(c *Config, v string) error {
			c.minReplicasMaxLag.Store(mustInt(v))
			return nil
		}),
		enumDir("propagation-error-behavior", 0, "ignore", "ignore", "panic", "panic-on-replicas"),

		// Scripting, latency, notifications.
		intDir("busy-reply-threshold", "lua-time-limit", 0, 0, longMax, 5000),
		intDir("latency-monitor-threshold", "", 0, 0, longMax, 0),
		boolDir("latency-tracking", "", 0, true),
		specialDir("latency-tracking-info-percentiles", "", fMultiArg, "50 99 99.9", parsePercentiles),

		// Cluster: thredis has no cluster mode, so it cannot be enabled.
		boolDir("cluster-enabled", "", fImmutable, false).checked(func(v string) error {
			if v == "yes" {
				return errors.New("cluster mode is not supported by thredis")
			}
			return nil
		}),
		strDir("cluster-config-file", "", fImmutable, "nodes.conf"),
		intDir("cluster-port", "", fImmutable, 0, 65535, 0),
		intDir("cluster-node-timeout", "", 0, 0, longMax, 15000),
		intDir("cluster-replica-validity-factor", "cluster-slave-validity-factor", 0, 0, intMax, 10),
		intDir("cluster-migration-barrier", "", 0, 0, intMax, 1),
		boolDir("cluster-allow-replica-migration", "", 0, true),
		boolDir("cluster-require-full-coverage", "", 0, true),
		boolDir("cluster-replica-no-failover", "cluster-slave-no-failover", 0, false),
		boolDir("cluster-allow-reads-when-down", "", 0, false),
		boolDir("cluster-allow-pubsubshard-when-down", "", 0, true),
		memDir("cluster-link-sendbuf-limit", "", fUnsigned, 0, 0, 0),
		strDir("cluster-announce-ip", "", fEmptyIsNull, ""),
		strDir("cluster-announce-hostname", "", fEmptyIsNull, "").checked(checkHostname),
		intDir("cluster-announce-port", "", 0, 0, 65535, 0),
		intDir("cluster-announce-bus-port", "", 0, 0, 65535, 0),
		intDir("cluster-announce-tls-port", "", 0, 0, 65535, 0),
		enumDir("cluster-preferred-endpoint-type", 0, "ip", "ip", "hostname", "unknown-endpoint"),

		// SQL (thredis's own).
		strDir("sql-default-key", "", 0, "_sql:redis_db").checked(func(v string) error {
			if v == "" {
				return errors.New("the default SQL key cannot be empty")
			}
			return nil
		}).with(func(c *Config, v string) error {
			c.sqlDefaultKey.Store(&v)
			return nil
		}),
		intDir("sql-page-size", "", 0, 512, 65536, 4096).checked(func(v string) error {
			if n := mustInt(v); n&(n-1) != 0 {
				return errors.New("the page size must be a power of two between 512 and 65536")
			}
			return nil
		}).with(func(c *Config, v string) error {
			c.SQL.PageSize.Store(mustInt(v))
			return nil
		}),
		intDir("sql-busy-timeout", "", 0, 0, intMax, 5000).with(func(c *Config, v string) error {
			c.SQL.BusyTimeout.Store(mustInt(v))
			return nil
		}),
		intDir("sql-time-limit", "", 0, 0, intMax, 5000).with(func(c *Config, v string) error {
			c.SQL.TimeLimit.Store(mustInt(v))
			return nil
		}),
		memDir("sql-max-reply-bytes", "", 0, 0, longMax, 64*1024*1024).with(func(c *Config, v string) error {
			c.SQL.MaxReplyBytes.Store(mustInt(v))
			return nil
		}),

		// TLS: thredis does not speak TLS, so a TLS port cannot be opened;
		// the other settings are stored.
		intDir("tls-port", "", 0, 0, 65535, 0).with(func(c *Config, v string) error {
			if v != "0" {
				return errors.New("Unable to update TLS configuration. Check server logs.")
			}
			return nil
		}),
		strDir("tls-cert-file", "", fEmptyIsNull, ""),
		strDir("tls-key-file", "", fEmptyIsNull, ""),
		strDir("tls-key-file-pass", "", fEmptyIsNull, ""),
		strDir("tls-client-cert-file", "", fEmptyIsNull, ""),
		strDir("tls-client-key-file", "", fEmptyIsNull, ""),
		strDir("tls-client-key-file-pass", "", fEmptyIsNull, ""),
		strDir("tls-dh-params-file", "", fEmptyIsNull, ""),
		strDir("tls-ca-cert-file", "", fEmptyIsNull, ""),
		strDir("tls-ca-cert-dir", "", fEmptyIsNull, ""),
		strDir("tls-protocols", "", fEmptyIsNull, ""),
		strDir("tls-ciphers", "", fEmptyIsNull, ""),
		strDir("tls-ciphersuites", "", fEmptyIsNull, ""),
		boolDir("tls-cluster", "", 0, false),
		boolDir("tls-replication", "", 0, false),
		enumDir("tls-auth-clients", 0, "yes", "no", "yes", "optional"),
		boolDir("tls-prefer-server-ciphers", "", 0, false),
		boolDir("tls-session-caching", "", 0, true),
		intDir("tls-session-cache-size", "", 0, 0, intMax, 20*1024),
		intDir("tls-session-cache-timeout", "", 0, 0, intMax, 300),
	}
}

// fixed attaches a post-validation adjustment to a numeric directive.
func (d *directive) fixed(fix func(int64) int64) *directive {
	d.fix = fix
	return d
}

func isBaseName(p string) bool { return !strings.ContainsAny(p, "/\\") }

// checkHostname validates cluster-announce-hostname like Redis.
func checkHostname(v string) error {
	if len(v) >= 256 {
		return errors.New("Hostnames must be less than 256 characters")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return errors.New("Hostnames may only contain alphanumeric characters, hyphens or dots")
		}
	}
	return nil
}

// checkProcTitleTemplate accepts templates made of text and Redis's known
// {variables}.
func checkProcTitleTemplate(v string) error {
	bad := errors.New("template format is invalid or contains unknown variables")
	known := map[string]bool{"{title}": true, "{listen-addr}": true, "{server-mode}": true, "{port}": true,
		"{tls-port}": true, "{unixsocket}": true, "{config-file}": true}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '{':
			j := strings.IndexByte(v[i:], '}')
			if j < 0 || !known[v[i:i+j+1]] {
				return bad
			}
			i += j
		case '}':
			return bad
		}
	}
	return nil
}

func applyPort(c *Config, v string) error {
	n := int(mustInt(v))
	if s := c.server; s != nil && s.listening() && n != c.Port {
		if err := s.rebind(c.Bind, n); err != nil {
			s.log.Warn("CONFIG SET port failed", "port", n, "error", err)
			return errors.New("Unable to listen on this port. Check server logs.")
		}
	}
	c.Port = n
	return nil
}

// parseBind validates bind addresses (at most 16; a single "" means none,
// i.e. every interface).
func parseBind(_ *Config, args []string, _ bool) (string, error) {
	if len(args) > 16 {
		return "", errors.New("Too many bind addresses specified.")
	}
	if len(args) == 1 && args[0] == "" {
		return "", nil
	}
	return strings.Join(args, " "), nil
}

func applyBind(c *Config, v string) error {
	addrs := strings.Fields(v)
	if s := c.server; s != nil && s.listening() && v != strings.Join(c.Bind, " ") {
		if err := s.rebind(addrs, c.Port); err != nil {
			s.log.Warn("CONFIG SET bind failed", "bind", v, "error", err)
			return errors.New("Failed to bind to specified addresses.")
		}
	}
	c.Bind = addrs
	return nil
}

// parseDir requires an existing directory and stores its absolute path
// (what Redis's CONFIG GET dir shows after its chdir). thredis does not
// change the process's working directory: persistence uses Dir.
func parseDir(_ *Config, args []string, _ bool) (string, error) {
	if len(args) != 1 {
		return "", errors.New("wrong number of arguments")
	}
	abs, err := filepath.Abs(args[0])
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", errorText(pe.Err)
		}
		return "", err
	}
	if !st.IsDir() {
		return "", errors.New("Not a directory")
	}
	return abs, nil
}

// errorText capitalizes a syscall error like strerror ("no such file or
// directory" -> "No such file or directory").
func errorText(err error) error {
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return errors.New(s)
}

// parseSave validates "seconds changes" pairs. From a config file or flag,
// the first save directive replaces the defaults and later ones add to it,
// as in Redis; CONFIG SET replaces the whole list.
func parseSave(c *Config, args []string, runtime bool) (string, error) {
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	bad := errors.New("Invalid save parameters")
	if len(args)%2 != 0 {
		return "", bad
	}
	for i, a := range args {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || (i%2 == 0 && n < 1) || (i%2 == 1 && n < 0) {
			return "", bad
		}
		args[i] = strconv.FormatInt(n, 10)
	}
	val := strings.Join(args, " ")
	if !runtime {
		c.mu.Lock()
		if c.saveLoaded && val != "" {
			if prev := c.values["save"]; prev != "" {
				val = prev + " " + val
			}
		} else if c.saveLoaded {
			val = c.values["save"]
		}
		c.saveLoaded = true
		c.mu.Unlock()
	}
	return val, nil
}

func parseOOMScoreAdjValues(_ *Config, args []string, _ bool) (string, error) {
	if len(args) != 3 {
		return "", errors.New("wrong number of arguments")
	}
	out := make([]string, 3)
	for i, a := range args {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < -2000 || n > 2000 {
			return "", errors.New("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
		}
		out[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(out, " "), nil
}

// Keyspace notification classes, in the order Redis prints them.
const (
	notifyKeyspace = 1 << iota
	notifyKeyevent
	notifyGeneric
	notifyString
	notifyList
	notifySet
	notifyHash
	notifyZSet
	notifyExpired
	notifyEvicted
	notifyStream
	notifyKeyMiss
	notifyLoaded
	notifyModule
	notifyNew
	notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash | notifyZSet |
		notifyExpired | notifyEvicted | notifyStream | notifyModule
)

var notifyClasses = []struct {
	ch   byte
	flag int
}{
	{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet}, {'h', notifyHash},
	{'z', notifyZSet}, {'x', notifyExpired}, {'e', notifyEvicted}, {'t', notifyStream}, {'d', notifyModule},
	{'n', notifyNew},
}

// parseNotifyKeyspaceEvents validates the class letters and returns them
// in Redis's canonical order (KEA -> AKE).
func parseNotifyKeyspaceEvents(_ *Config, args []string, _ bool) (string, error) {
	if len(args) != 1 {
		return "", errors.New("wrong number of arguments")
	}
	flags := 0
	for i := 0; i < len(args[0]); i++ {
		switch ch := args[0][i]; ch {
		case 'A':
			flags |= notifyAll
		case 'K':
			flags |= notifyKeyspace
		case 'E':
			flags |= notifyKeyevent
		case 'm':
			flags |= notifyKeyMiss
		default:
			found := false
			for _, nc := range notifyClasses {
				if nc.ch == ch {
					flags |= nc.flag
					found = true
				}
			}
			if !found {
				return "", errors.New("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
			}
		}
	}
	var b []byte
	if flags&notifyAll == notifyAll {
		b = append(b, 'A')
	} else {
		for _, nc := range notifyClasses {
			if flags&nc.flag != 0 {
				b = append(b, nc.ch)
			}
		}
	}
	if flags&notifyKeyspace != 0 {
		b = append(b, 'K')
	}
	if flags&notifyKeyevent != 0 {
		b = append(b, 'E')
	}
	if flags&notifyKeyMiss != 0 {
		b = append(b, 'm')
	}
	return string(b), nil
}

// parseReplicaOf validates "host port" or "no one" (no master).
func parseReplicaOf(_ *Config, args []string, _ bool) (string, error) {
	if len(args) == 1 && args[0] == "" {
		return "", nil
	}
	if len(args) != 2 {
		return "", errors.New("wrong number of arguments")
	}
	if strings.EqualFold(args[0], "no") && strings.EqualFold(args[1], "one") {
		return "", nil
	}
	port, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || port < 0 || port > 65535 {
		return "", errors.New("Invalid master port")
	}
	return args[0] + " " + strconv.FormatInt(port, 10), nil
}

// parsePercentiles validates latency-tracking-info-percentiles and
// formats each like Redis (%f with trailing zeros trimmed).
func parsePercentiles(_ *Config, args []string, _ bool) (string, error) {
	if len(args) == 1 && args[0] == "" {
		return "", nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil && (strings.HasPrefix(a, "0x") || strings.HasPrefix(a, "0X")) && !strings.ContainsAny(a, "pP") {
			f, err = strconv.ParseFloat(a+"p0", 64) // strtod's hex form
		}
		if err != nil || a == "" || strings.ContainsAny(a, " \t") || math.IsNaN(f) {
			return "", errors.New("Invalid latency-tracking-info-percentiles parameters")
		}
		if f < 0 || f > 100 {
			return "", errors.New("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
		}
		s := fmt.Sprintf("%f", f)
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
		out[i] = s
	}
	return strings.Join(out, " "), nil
}
