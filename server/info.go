package server

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// infoSections lists INFO's sections in output order. Each renders its
// fields; INFO picks the requested ones.
var infoSections = []struct {
	name   string
	title  string
	dflt   bool // part of INFO / INFO default
	all    bool // part of INFO all / everything
	render func(s *Server, b *infoBuilder)
}{
	{name: "server", title: "Server", dflt: true, all: true, render: (*Server).infoServer},
	{name: "clients", title: "Clients", dflt: true, all: true, render: (*Server).infoClients},
	{name: "memory", title: "Memory", dflt: true, all: true, render: (*Server).infoMemory},
	{name: "persistence", title: "Persistence", dflt: true, all: true, render: (*Server).infoPersistence},
	{name: "stats", title: "Stats", dflt: true, all: true, render: (*Server).infoStats},
	{name: "replication", title: "Replication", dflt: true, all: true, render: (*Server).infoReplication},
	{name: "cpu", title: "CPU", dflt: true, all: true, render: (*Server).infoCPU},
	{name: "modules", title: "Modules", dflt: true, all: true, render: func(*Server, *infoBuilder) {}},
	{name: "commandstats", title: "Commandstats", all: true, render: (*Server).infoCommandStats},
	{name: "errorstats", title: "Errorstats", dflt: true, all: true, render: (*Server).infoErrorStats},
	{name: "cluster", title: "Cluster", dflt: true, all: true, render: func(_ *Server, b *infoBuilder) { b.kv("cluster_enabled", "0") }},
	{name: "keyspace", title: "Keyspace", dflt: true, all: true, render: (*Server).infoKeyspace},
	{name: "sql", title: "SQL", dflt: true, all: true, render: (*Server).infoSQL},
}

// infoBuilder accumulates "field:value\r\n" lines.
type infoBuilder struct{ strings.Builder }

func (b *infoBuilder) kv(k, v string) {
	b.WriteString(k)
	b.WriteByte(':')
	b.WriteString(v)
	b.WriteString("\r\n")
}

func (b *infoBuilder) num(k string, n int64)   { b.kv(k, strconv.FormatInt(n, 10)) }
func (b *infoBuilder) unum(k string, n uint64) { b.kv(k, strconv.FormatUint(n, 10)) }
func (b *infoBuilder) fixed(k string, f float64, prec int) {
	b.kv(k, strconv.FormatFloat(f, 'f', prec, 64))
}

func serverCommandInfoRow() *Command {
	return &Command{Name: "info", Arity: -1, Flags: FlagLoading | FlagStale, Group: "server", Since: "1.0.0",
		Summary: "Get information and statistics about the server", Handler: cmdInfo,
		ACL:  []string{"@dangerous"},
		Tips: []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"}}
}

func cmdInfo(c *Client, args [][]byte) {
	c.W.Verbatim(c.s.Info(args[1:]...))
}

// Info renders INFO for the given section names (none means "default"),
// with Redis's section and field names. Callers hold the execution lock.
func (s *Server) Info(sections ...[]byte) string {
	want := map[string]bool{}
	if len(sections) == 0 {
		want["default"] = true
	}
	for _, sec := range sections {
		want[strings.ToLower(string(sec))] = true
	}
	all := want["all"] || want["everything"]
	var out infoBuilder
	for _, sec := range infoSections {
		if !(want[sec.name] || all && sec.all || want["default"] && sec.dflt) {
			continue
		}
		if out.Len() > 0 {
			out.WriteString("\r\n")
		}
		out.WriteString("# " + sec.title + "\r\n")
		sec.render(s, &out)
	}
	return out.String()
}

func (s *Server) infoServer(b *infoBuilder) {
	now := time.Now()
	uptime := int64(now.Sub(s.startTime) / time.Second)
	b.kv("redis_version", Version)
	b.kv("redis_git_sha1", "00000000")
	b.kv("redis_git_dirty", "0")
	b.kv("redis_build_id", buildID())
	b.kv("redis_mode", "standalone")
	b.kv("os", osName())
	b.num("arch_bits", strconv.IntSize)
	b.kv("monotonic_clock", "POSIX clock_gettime")
	b.kv("multiplexing_api", multiplexingAPI())
	b.num("process_id", int64(os.Getpid()))
	b.kv("process_supervised", "no")
	b.kv("run_id", s.admin.runID)
	b.num("tcp_port", int64(s.listenPort()))
	b.num("server_time_usec", now.UnixMicro())
	b.num("uptime_in_seconds", uptime)
	b.num("uptime_in_days", uptime/86400)
	b.num("hz", int64(s.cfg.HZ()))
	b.num("configured_hz", int64(s.cfg.HZ()))
	b.num("lru_clock", int64(s.ks.LRUClock()&lruClockMax))
	exe, _ := os.Executable()
	b.kv("executable", exe)
	cfgFile := s.cfg.File
	if cfgFile != "" {
		if abs, err := filepath.Abs(cfgFile); err == nil {
			cfgFile = abs
		}
	}
	b.kv("config_file", cfgFile)
	b.kv("io_threads_active", "0")
}

// lruClockMax is Redis's 24-bit LRU clock mask.
const lruClockMax = 1<<24 - 1

// buildID identifies the binary: the VCS revision it was built from, or
// its Go module version.
func buildID() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" && len(st.Value) >= 15 {
				return st.Value[:15]
			}
		}
	}
	return "0"
}

// osName is uname's "sysname release machine", like Redis's os field.
func osName() string {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	typ, rel := read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease")
	if typ == "" {
		typ = runtime.GOOS
	}
	machine := runtime.GOARCH
	switch machine {
	case "amd64":
		machine = "x86_64"
	case "arm64":
		machine = "aarch64"
	}
	return strings.Join(strings.Fields(typ+" "+rel+" "+machine), " ")
}

// multiplexingAPI names the poller Go's network runtime uses.
func multiplexingAPI() string {
	switch runtime.GOOS {
	case "linux":
		return "epoll"
	case "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
		return "kqueue"
	case "solaris", "illumos":
		return "evport"
	}
	return "iocp"
}

func (s *Server) infoClients(b *infoBuilder) {
	s.clientMu.Lock()
	n := len(s.clients)
	s.clientMu.Unlock()
	b.num("connected_clients", int64(n))
	b.kv("cluster_connections", "0")
	b.num("maxclients", int64(s.cfg.MaxClients()))
	b.kv("blocked_clients", "0")
	b.kv("tracking_clients", "0")
	b.kv("clients_in_timeout_table", "0")
}

// humanBytes formats a byte count like Redis's bytesToHuman.
func humanBytes(n uint64) string {
	d := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatUint(n, 10) + "B"
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", d/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", d/(1024*1024))
	case n < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", d/(1024*1024*1024))
	case n < 1024*1024*1024*1024*1024:
		return fmt.Sprintf("%.2fT", d/(1024*1024*1024*1024))
	}
	return fmt.Sprintf("%.2fP", d/(1024*1024*1024*1024*1024))
}

// processRSS returns the resident set size from /proc/self/statm (0 where
// unavailable).
func processRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// totalSystemMemory returns MemTotal from /proc/meminfo (0 if unknown).
func totalSystemMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func (s *Server) infoMemory(b *infoBuilder) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	used := s.usedMemory(&m)
	peak := s.admin.peakMemory.Load()
	rss := processRSS()
	sys := totalSystemMemory()
	maxmem := s.cfg.maxmemory.Load()
	policy, _ := s.cfg.Get("maxmemory-policy")
	b.unum("used_memory", used)
	b.kv("used_memory_human", humanBytes(used))
	b.unum("used_memory_rss", rss)
	b.kv("used_memory_rss_human", humanBytes(rss))
	b.unum("used_memory_peak", peak)
	b.kv("used_memory_peak_human", humanBytes(peak))
	b.kv("used_memory_peak_perc", fmt.Sprintf("%.2f%%", 100*float64(used)/float64(max(peak, 1))))
	b.unum("used_memory_startup", s.admin.startupMemory)
	b.unum("allocator_allocated", m.HeapAlloc)
	b.unum("allocator_active", m.HeapInuse)
	b.unum("allocator_resident", m.HeapSys-m.HeapReleased)
	b.unum("total_system_memory", sys)
	b.kv("total_system_memory_human", humanBytes(sys))
	b.unum("maxmemory", maxmem)
	b.kv("maxmemory_human", humanBytes(maxmem))
	b.kv("maxmemory_policy", policy)
	if m.HeapInuse > 0 {
		b.fixed("allocator_frag_ratio", float64(m.HeapInuse)/float64(max(m.HeapAlloc, 1)), 2)
		b.unum("allocator_frag_bytes", m.HeapInuse-min(m.HeapAlloc, m.HeapInuse))
	}
	if used > 0 && rss > 0 {
		b.fixed("mem_fragmentation_ratio", float64(rss)/float64(used), 2)
		b.num("mem_fragmentation_bytes", int64(rss)-int64(used))
	}
	b.kv("mem_not_counted_for_evict", "0")
	b.kv("mem_replication_backlog", "0")
	b.kv("mem_total_replication_buffers", "0")
	b.kv("mem_clients_slaves", "0")
	b.kv("mem_clients_normal", "0")
	b.kv("mem_cluster_links", "0")
	b.kv("mem_aof_buffer", "0")
	b.kv("mem_allocator", "go-"+strings.TrimPrefix(runtime.Version(), "go"))
	b.kv("active_defrag_running", "0")
	b.kv("lazyfree_pending_objects", "0")
	b.kv("lazyfreed_objects", "0")
}

func (s *Server) infoStats(b *infoBuilder) {
	st := &s.stats
	ks := &s.ks.Stats
	s.admin.mu.Lock()
	ops, in, out := s.admin.ops.rate(), s.admin.netIn.rate(), s.admin.netOut.rate()
	s.admin.mu.Unlock()
	b.num("total_connections_received", st.connectionsReceived.Load())
	b.num("total_commands_processed", st.commandsProcessed.Load())
	b.num("instantaneous_ops_per_sec", int64(ops+0.5))
	b.num("total_net_input_bytes", st.netInputBytes.Load())
	b.num("total_net_output_bytes", st.netOutputBytes.Load())
	b.kv("total_net_repl_input_bytes", "0")
	b.kv("total_net_repl_output_bytes", "0")
	b.fixed("instantaneous_input_kbps", in/1024, 2)
	b.fixed("instantaneous_output_kbps", out/1024, 2)
	b.kv("instantaneous_input_repl_kbps", "0.00")
	b.kv("instantaneous_output_repl_kbps", "0.00")
	b.num("rejected_connections", st.rejectedConns.Load())
	b.num("sync_full", s.repl.syncFull.Load())
	b.num("sync_partial_ok", s.repl.syncPartialOK.Load())
	b.num("sync_partial_err", s.repl.syncPartialErr.Load())
	b.num("expired_keys", ks.ExpiredKeys)
	b.fixed("expired_stale_perc", float64(ks.ExpiredStale), 2)
	b.kv("expired_time_cap_reached_count", "0")
	b.num("expire_cycle_cpu_milliseconds", ks.ExpireCycleTime.Milliseconds())
	b.kv("evicted_keys", "0")
	b.kv("evicted_clients", "0")
	b.kv("total_eviction_exceeded_time", "0")
	b.kv("current_eviction_exceeded_time", "0")
	b.num("keyspace_hits", ks.KeyspaceHits)
	b.num("keyspace_misses", ks.KeyspaceMisses)
	b.kv("pubsub_channels", "0")
	b.kv("pubsub_patterns", "0")
	b.kv("pubsubshard_channels", "0")
	b.kv("latest_fork_usec", "0")
	b.kv("total_forks", "0")
	b.kv("migrate_cached_sockets", "0")
	b.kv("slave_expires_tracked_keys", "0")
	b.kv("active_defrag_hits", "0")
	b.kv("active_defrag_misses", "0")
	b.kv("active_defrag_key_hits", "0")
	b.kv("active_defrag_key_misses", "0")
	b.kv("total_active_defrag_time", "0")
	b.kv("current_active_defrag_time", "0")
	b.kv("tracking_total_keys", "0")
	b.kv("tracking_total_items", "0")
	b.kv("tracking_total_prefixes", "0")
	b.kv("unexpected_error_replies", "0")
	b.num("total_error_replies", st.totalErrorReplies.Load())
	b.kv("dump_payload_sanitizations", "0")
	b.kv("io_threaded_reads_processed", "0")
	b.kv("io_threaded_writes_processed", "0")
}

func (s *Server) infoCPU(b *infoBuilder) {
	self, children, ok := cpuUsage()
	if !ok {
		return
	}
	b.fixed("used_cpu_sys", self.sys.Seconds(), 6)
	b.fixed("used_cpu_user", self.user.Seconds(), 6)
	b.fixed("used_cpu_sys_children", children.sys.Seconds(), 6)
	b.fixed("used_cpu_user_children", children.user.Seconds(), 6)
}

// allCommandRows returns every command and subcommand row, sorted by full
// name.
func (s *Server) allCommandRows() []*Command {
	var out []*Command
	for _, cmd := range s.table.All() {
		out = append(out, cmd)
		for _, sub := range sortedSubs(cmd) {
			out = append(out, sub)
		}
	}
	return out
}

func sortedSubs(cmd *Command) []*Command {
	subs := make([]*Command, 0, len(cmd.Sub))
	for _, sub := range cmd.Sub {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	return subs
}

func (s *Server) infoCommandStats(b *infoBuilder) {
	for _, cmd := range s.allCommandRows() {
		st := &cmd.stats
		calls, rejected, failed := st.calls.Load(), st.rejected.Load(), st.failed.Load()
		if calls == 0 && rejected == 0 && failed == 0 {
			continue
		}
		usec := st.usec.Load()
		perCall := 0.0
		if calls > 0 {
			perCall = float64(usec) / float64(calls)
		}
		b.kv("cmdstat_"+cmd.FullName(), fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			calls, usec, perCall, rejected, failed))
	}
}

func (s *Server) infoErrorStats(b *infoBuilder) {
	s.errStatsMu.Lock()
	codes := make([]string, 0, len(s.errStats))
	for code := range s.errStats {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		b.kv("errorstat_"+code, "count="+strconv.FormatInt(s.errStats[code], 10))
	}
	s.errStatsMu.Unlock()
}

// infoKeyspace lists non-empty databases. avg_ttl is 0: thredis does not
// keep Redis's sampled estimate (Redis also reports 0 until it has one).
func (s *Server) infoKeyspace(b *infoBuilder) {
	for i := 0; i < s.ks.NumDBs(); i++ {
		db := s.ks.DB(i)
		if db.Len() == 0 {
			continue
		}
		b.kv("db"+strconv.Itoa(i), fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", db.Len(), db.ExpiresLen()))
	}
}
