// Command persist is the helper of bench/persist-benchmark.sh. It has two
// subcommands:
//
//	persist load -p PORT -n KEYS -d BYTES
//
// stores KEYS string keys key:000000000000 … (redis-benchmark's
// key:__rand_int__ naming, so `redis-benchmark -r KEYS -t set` overwrites
// them) with BYTES-byte values, over one connection with deep pipelining.
// The values are the same on every run (slices of a fixed pseudo-random
// alphanumeric pool), so two servers loaded with it hold identical data, and
// they do not compress (like real data, unlike redis-benchmark's "xxx…").
//
//	persist job -p PORT -pid PID -cmd BGSAVE [-probe KEY] [-idle 2s]
//
// measures one background persistence job (BGSAVE or BGREWRITEAOF) of the
// server at PORT whose process is PID, and prints one line of key=value
// fields:
//
//   - wall_ms: from sending the command until INFO persistence (polled every
//     -poll) shows the job finished (rdb_bgsave_in_progress or
//     aof_rewrite_in_progress 0 and rdb_saves / aof_rewrites incremented);
//   - reply_ms: the command's own round trip;
//   - child_ms: for a forking server, how long its child process lived;
//   - rss_before_kb, extra_rss_kb: the server's VmRSS before the command,
//     and the peak, during the job, of its VmRSS plus its child processes'
//     VmRSS, minus rss_before_kb (sampled every -sample);
//   - extra_priv_kb: the same peak counting only the child's private pages
//     (Private_Clean + Private_Dirty of /proc/<child>/smaps_rollup): the
//     memory a fork really adds — a child's RSS also counts the pages it
//     still shares with its parent;
//   - with -probe KEY: a probe connection sends GET KEY, one at a time, from
//     -idle before the command until the job ends; idle_* are the round
//     trips before the command, save_* those that started after it was sent
//     (count, p50, p99, max in ms; idle_rps and save_rps are the probe's
//     requests per second in each phase); save_worst_at_ms is when the slowest
//     of the latter began, in ms after the command was sent;
//   - with -control PORT as well: a second probe GETs -control-key from
//     another (idle) server at the same time; ctl_idle_* and ctl_save_*
//     are its figures, and save_own_max_ms is the slowest save round trip
//     of the first probe that no control round trip at least half as long
//     overlapped — a stall both servers saw at once is the machine's
//     (CPU starvation, I/O stalls of the VM), not the saving server's;
//     idle_own_max_ms is the same for the idle phase (with a writer
//     running in the background: the writer-only baseline).
//
// Both subcommands stop with an error after -timeout.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thredis/thredis/bench/procstat"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = load(os.Args[2:])
	case "job":
		err = job(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "persist:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: persist load -p PORT -n KEYS -d BYTES | persist job -p PORT -pid PID -cmd BGSAVE|BGREWRITEAOF [-probe KEY]")
	os.Exit(2)
}

// ---- load ----

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	port := fs.Int("p", 6379, "server port")
	n := fs.Int("n", 1000000, "keys")
	size := fs.Int("d", 100, "value size in bytes")
	batch := fs.Int("batch", 1000, "commands per pipelined batch")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	fs.Parse(args)

	c, err := dial(*port, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	pool := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range pool {
		pool[i] = alnum[rng.IntN(len(alnum))]
	}
	if *size > len(pool)/2 {
		return fmt.Errorf("value size %d too large", *size)
	}
	span := len(pool) - *size
	r := bufio.NewReaderSize(c, 1<<16)
	w := bufio.NewWriterSize(c, 1<<20)
	var key [16]byte
	for start := 0; start < *n; start += *batch {
		end := min(start+*batch, *n)
		for i := start; i < end; i++ {
			k := fmt.Appendf(key[:0], "key:%012d", i)
			off := int((uint64(i) * 2654435761) % uint64(span))
			writeCmd(w, []byte("SET"), k, pool[off:off+*size])
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for i := start; i < end; i++ {
			line, err := readReply(r)
			if err != nil {
				return err
			}
			if line[0] == '-' {
				return fmt.Errorf("SET: %s", line)
			}
		}
	}
	return nil
}

// ---- job ----

type sample struct {
	at       time.Duration
	extraRSS int64 // kB over the baseline, children's VmRSS included
	extraPrv int64 // kB over the baseline, children's private pages only
	children int
}

func job(args []string) error {
	fs := flag.NewFlagSet("job", flag.ExitOnError)
	port := fs.Int("p", 6379, "server port")
	pid := fs.Int("pid", 0, "server process id (for RSS sampling)")
	cmd := fs.String("cmd", "BGSAVE", "BGSAVE or BGREWRITEAOF")
	probeKey := fs.String("probe", "", "key the probe GETs; no probe if empty")
	control := fs.Int("control", 0, "port of an idle server to probe at the same time (0: none)")
	controlKey := fs.String("control-key", "probe", "key the control probe GETs")
	idle := fs.Duration("idle", 2*time.Second, "probe time before the command")
	poll := fs.Duration("poll", 10*time.Millisecond, "INFO persistence poll interval")
	every := fs.Duration("sample", 10*time.Millisecond, "RSS sample interval")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	fs.Parse(args)
	if *pid == 0 {
		return errors.New("job: -pid is required")
	}
	var progField, countField string
	switch strings.ToUpper(*cmd) {
	case "BGSAVE":
		progField, countField = "rdb_bgsave_in_progress", "rdb_saves"
	case "BGREWRITEAOF":
		progField, countField = "aof_rewrite_in_progress", "aof_rewrites"
	default:
		return fmt.Errorf("job: unknown command %q", *cmd)
	}
	deadline := time.Now().Add(*timeout)

	ctl, err := dial(*port, *timeout)
	if err != nil {
		return err
	}
	defer ctl.Close()
	ctlR := bufio.NewReader(ctl)
	info := func() (map[string]string, error) {
		if _, err := ctl.Write(encode("INFO", "persistence")); err != nil {
			return nil, err
		}
		b, err := readBulk(ctlR)
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, l := range strings.Split(string(b), "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				m[k] = v
			}
		}
		return m, nil
	}
	// Wait until no job runs (e.g. the rewrite CONFIG SET appendonly yes
	// started) and the server is idle.
	var before map[string]string
	for {
		if before, err = info(); err != nil {
			return err
		}
		if before["rdb_bgsave_in_progress"] == "0" && before["aof_rewrite_in_progress"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("job: a previous job is still running")
		}
		time.Sleep(50 * time.Millisecond)
	}
	count0, _ := strconv.ParseInt(before[countField], 10, 64)

	// Probes.
	t0 := time.Now()
	var mp, ctlProbe *probe
	if *probeKey != "" {
		if mp, err = startProbe(*port, *probeKey, t0, *timeout); err != nil {
			return err
		}
		defer mp.stop()
		if *control != 0 {
			if ctlProbe, err = startProbe(*control, *controlKey, t0, *timeout); err != nil {
				return err
			}
			defer ctlProbe.stop()
		}
		time.Sleep(*idle)
	}

	// RSS sampler.
	base := procstat.RSSKB(*pid)
	if base < 0 {
		return fmt.Errorf("job: cannot read /proc/%d/status", *pid)
	}
	var (
		samples    []sample
		sampleStop = make(chan struct{})
		sampleDone = make(chan struct{})
		childSeen  = time.Duration(-1) // first sample showing a child process
		childGone  = time.Duration(-1) // first sample after that without one
	)
	sent := time.Now()
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for {
			s := sample{at: time.Since(sent)}
			rss := procstat.RSSKB(*pid)
			s.extraRSS, s.extraPrv = rss-base, rss-base
			for _, c := range procstat.Children(*pid) {
				s.children++
				s.extraRSS += max(procstat.RSSKB(c), 0)
				s.extraPrv += max(procstat.PrivateKB(c), 0)
			}
			if s.children > 0 && childSeen < 0 {
				childSeen = s.at
			}
			if s.children == 0 && childSeen >= 0 && childGone < 0 {
				childGone = s.at
			}
			samples = append(samples, s)
			select {
			case <-sampleStop:
				return
			case <-tick.C:
			}
		}
	}()

	// The command.
	if _, err := ctl.Write(encode(*cmd)); err != nil {
		return err
	}
	line, err := readReply(ctlR)
	if err != nil {
		return err
	}
	replyMs := ms(time.Since(sent))
	if line[0] == '-' {
		return fmt.Errorf("job: %s: %s", *cmd, bytes.TrimSpace(line))
	}
	var after map[string]string
	for {
		if after, err = info(); err != nil {
			return err
		}
		count, _ := strconv.ParseInt(after[countField], 10, 64)
		if after[progField] == "0" && (count > count0 || after["rdb_last_bgsave_status"] == "err" ||
			after["aof_last_bgrewrite_status"] == "err") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job: %s still running after %s", *cmd, *timeout)
		}
		time.Sleep(*poll)
	}
	wall := time.Since(sent)
	close(sampleStop)
	<-sampleDone
	for _, p := range []*probe{mp, ctlProbe} {
		if p != nil {
			if err := p.stop(); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		}
	}
	if after["rdb_last_bgsave_status"] == "err" || after["aof_last_bgrewrite_status"] == "err" {
		return fmt.Errorf("job: %s failed (INFO persistence reports err)", *cmd)
	}

	childMs := 0.0
	if childSeen >= 0 {
		if childGone < 0 {
			childGone = wall
		}
		childMs = ms(childGone - childSeen)
	}
	var peakRSS, peakPrv int64
	for _, s := range samples {
		peakRSS = max(peakRSS, s.extraRSS)
		peakPrv = max(peakPrv, s.extraPrv)
	}
	out := []string{
		"wall_ms=" + f3(ms(wall)),
		"reply_ms=" + f3(replyMs),
		"child_ms=" + f3(childMs),
		"rss_before_kb=" + strconv.FormatInt(base, 10),
		"extra_rss_kb=" + strconv.FormatInt(peakRSS, 10),
		"extra_priv_kb=" + strconv.FormatInt(peakPrv, 10),
		"samples=" + strconv.Itoa(len(samples)),
	}
	for _, k := range []string{"rdb_last_cow_size", "aof_last_cow_size", "aof_base_size"} {
		if v, ok := after[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	if mp != nil {
		sentAt, endAt := sent.Sub(t0), sent.Sub(t0)+wall
		idleRT, saveRT := mp.split(sentAt, endAt)
		out = append(out, stats("idle", idleRT)...)
		out = append(out, stats("save", saveRT)...)
		out = append(out, "idle_rps="+strconv.FormatFloat(float64(len(idleRT))/sentAt.Seconds(), 'f', 0, 64),
			"save_rps="+strconv.FormatFloat(float64(len(saveRT))/wall.Seconds(), 'f', 0, 64))
		var worst rt
		for _, r := range saveRT {
			if r.dur > worst.dur {
				worst = r
			}
		}
		// When the worst round trip of the save began, ms after the command.
		out = append(out, "save_worst_at_ms="+f3(ms(worst.start-sentAt)))
		if ctlProbe != nil {
			cIdle, cSave := ctlProbe.split(sentAt, endAt)
			out = append(out, stats("ctl_idle", cIdle)...)
			out = append(out, stats("ctl_save", cSave)...)
			out = append(out, "save_own_max_ms="+f3(ms(ctlProbe.ownMax(saveRT))),
				"idle_own_max_ms="+f3(ms(ctlProbe.ownMax(idleRT))))
		}
	}
	fmt.Println(strings.Join(out, " "))
	return nil
}

// rt is one probe round trip: when it began (since the job's t0) and how
// long it took.
type rt struct{ start, dur time.Duration }

// probe sends GET key, one at a time, until stopped, and records each
// round trip.
type probe struct {
	rts  []rt
	err  error
	quit atomic.Bool
	wg   sync.WaitGroup
	conn net.Conn
}

func startProbe(port int, key string, t0 time.Time, timeout time.Duration) (*probe, error) {
	c, err := dial(port, timeout)
	if err != nil {
		return nil, err
	}
	p := &probe{conn: c, rts: make([]rt, 0, 1<<20)}
	req := encode("GET", key)
	r := bufio.NewReader(c)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for !p.quit.Load() {
			s := time.Now()
			if _, err := c.Write(req); err != nil {
				p.err = err
				return
			}
			if _, err := readReply(r); err != nil {
				p.err = err
				return
			}
			p.rts = append(p.rts, rt{s.Sub(t0), time.Since(s)})
		}
	}()
	return p, nil
}

// stop ends the probe (idempotent) and returns its error.
func (p *probe) stop() error {
	p.quit.Store(true)
	p.wg.Wait()
	p.conn.Close()
	return p.err
}

// split returns the durations of the round trips that began before from,
// and of those that began in [from, to).
func (p *probe) split(from, to time.Duration) (before, during []rt) {
	for _, r := range p.rts {
		if r.start < from {
			before = append(before, r)
		} else if r.start < to {
			during = append(during, r)
		}
	}
	return before, during
}

// stalledDuring reports whether a round trip of this probe that overlaps r
// took at least half as long as r: then both servers (or the client) were
// held up together, which points at the machine rather than the server.
func (p *probe) stalledDuring(r rt) bool {
	// The probe's round trips are sequential: both starts and ends ascend.
	i := sort.Search(len(p.rts), func(i int) bool { return p.rts[i].start+p.rts[i].dur > r.start })
	for ; i < len(p.rts) && p.rts[i].start < r.start+r.dur; i++ {
		if p.rts[i].dur*2 >= r.dur {
			return true
		}
	}
	return false
}

// ownMax returns the slowest of rts (round trips of the other probe)
// that this probe was not stalled during (see stalledDuring): the probed
// server's own worst pause, leaving out the machine's.
func (p *probe) ownMax(rts []rt) time.Duration {
	byDur := slices.Clone(rts)
	slices.SortFunc(byDur, func(a, b rt) int { return cmp.Compare(b.dur, a.dur) })
	for _, r := range byDur {
		if !p.stalledDuring(r) {
			return r.dur
		}
	}
	return 0
}

func stats(name string, rts []rt) []string {
	d := make([]time.Duration, len(rts))
	for i, r := range rts {
		d[i] = r.dur
	}
	if len(d) == 0 {
		return []string{name + "_n=0", name + "_p50_ms=0", name + "_p99_ms=0", name + "_max_ms=0"}
	}
	slices.Sort(d)
	pct := func(p float64) string { return f3(ms(d[int(p*float64(len(d)-1))])) }
	return []string{
		name + "_n=" + strconv.Itoa(len(d)),
		name + "_p50_ms=" + pct(0.5),
		name + "_p99_ms=" + pct(0.99),
		name + "_max_ms=" + f3(ms(d[len(d)-1])),
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
func f3(v float64) string        { return strconv.FormatFloat(v, 'f', 3, 64) }

// ---- RESP ----

func dial(port int, timeout time.Duration) (net.Conn, error) {
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	return c, nil
}

func encode(args ...string) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	writeCmd(w, bs...)
	w.Flush()
	return b.Bytes()
}

func writeCmd(w *bufio.Writer, args ...[]byte) {
	w.WriteByte('*')
	w.WriteString(strconv.Itoa(len(args)))
	w.WriteString("\r\n")
	for _, a := range args {
		w.WriteByte('$')
		w.WriteString(strconv.Itoa(len(a)))
		w.WriteString("\r\n")
		w.Write(a)
		w.WriteString("\r\n")
	}
}

// readReply reads one status, error, integer or bulk reply and returns its
// first line.
func readReply(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, fmt.Errorf("short reply %q", line)
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		if n >= 0 {
			if _, err := r.Discard(n + 2); err != nil {
				return nil, err
			}
		}
		return []byte("$"), nil
	}
	return nil, fmt.Errorf("unsupported reply type %q", line[0])
}

func readBulk(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[0] != '$' {
		return nil, fmt.Errorf("expected a bulk reply, got %q", line)
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad bulk length %q", line)
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b[:n], nil
}
