// Command repl is the helper of bench/repl-benchmark.sh. It has two
// subcommands:
//
//	repl lag -m MPORT [-r RPORT] [-mpid PID] [-rpid PID] [-out FILE] -- COMMAND ARGS...
//
// runs COMMAND (e.g. redis-benchmark against the master; its stdout goes
// to -out) and, while it runs, samples every -interval (50 ms) the master's
// master_repl_offset and the replica's slave_repl_offset (INFO replication,
// both asked at the same moment over two connections). After COMMAND exits it keeps
// sampling (every 5 ms) until the replica's offset reaches the master's.
// It prints one line of key=value fields:
//
//   - cmd_ms: how long COMMAND ran;
//   - samples, lag_p50, lag_p99, lag_max: master_repl_offset −
//     slave_repl_offset in bytes over the samples taken while COMMAND ran;
//   - lag_end: the lag right after COMMAND exited; catchup_ms: from then
//     until the replica's offset reached the master's (-1: -catchup ran out);
//   - repl_bytes: how far master_repl_offset moved while COMMAND ran;
//   - mcpu_ms, rcpu_ms: CPU time (user + system, reaped children included)
//     of the master and replica processes (-mpid, -rpid) from just before
//     COMMAND started until the replica caught up; ccpu_ms: COMMAND's own
//     (the benchmark client's, with the children it waited for).
//
// Without -r only the master is sampled (lag fields are 0), so a run with
// and one without a replica carry the same sampling load.
//
//	repl sync -m MPORT -r RPORT [-mpid PID] [-rpid PID]
//
// sends REPLICAOF 127.0.0.1 MPORT to the replica at RPORT and polls its
// INFO replication and INFO persistence every -poll (10 ms) until it shows
// master_link_status:up and master_sync_in_progress:0 and its
// slave_repl_offset equals the master's master_repl_offset. It prints:
//
//   - wall_ms: REPLICAOF sent → that state;
//   - sync_seen_ms: when master_sync_in_progress:1 was first seen (-1: never);
//   - loading_ms: for how long INFO persistence showed loading:1 (0: never
//     seen, e.g. a diskless load shorter than the poll interval);
//   - loading_start_ms: when loading:1 was first seen (-1: never);
//   - mcpu_ms, rcpu_ms: CPU time of master and replica over wall_ms;
//   - m_extra_rss_kb, r_extra_rss_kb: peak VmRSS (the master's including
//     its forked children) over the value before REPLICAOF, sampled at
//     every poll.
//
// Both subcommands stop with an error after -timeout.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thredis/thredis/bench/procstat"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "lag":
		err = lag(os.Args[2:])
	case "sync":
		err = syncCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "repl:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: repl lag -m MPORT [-r RPORT] [-out FILE] -- COMMAND ARGS... | repl sync -m MPORT -r RPORT")
	os.Exit(2)
}

// ---- lag ----

func lag(args []string) error {
	fs := flag.NewFlagSet("lag", flag.ExitOnError)
	mport := fs.Int("m", 0, "master port")
	rport := fs.Int("r", 0, "replica port (0: no replica)")
	mpid := fs.Int("mpid", 0, "master process id (CPU time)")
	rpid := fs.Int("rpid", 0, "replica process id (CPU time)")
	out := fs.String("out", "", "file for COMMAND's stdout (default: discarded)")
	interval := fs.Duration("interval", 50*time.Millisecond, "sample interval")
	catchup := fs.Duration("catchup", 2*time.Minute, "how long to wait for the replica to catch up")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	fs.Parse(args)
	if *mport == 0 || fs.NArg() == 0 {
		usage()
	}
	m, err := dialInfo(*mport, *timeout)
	if err != nil {
		return err
	}
	defer m.Close()
	var r *infoConn
	if *rport != 0 {
		if r, err = dialInfo(*rport, *timeout); err != nil {
			return err
		}
		defer r.Close()
	}
	// sample returns (master offset, replica offset), asked in parallel.
	sample := func() (int64, int64, error) {
		var ro int64
		var rerr error
		var wg sync.WaitGroup
		if r != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ro, rerr = r.offset("slave_repl_offset")
			}()
		}
		mo, merr := m.offset("master_repl_offset")
		wg.Wait()
		return mo, ro, errors.Join(merr, rerr)
	}

	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stderr = os.Stderr
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	mcpu0, rcpu0 := procstat.CPUMillis(*mpid), procstat.CPUMillis(*rpid)
	mo0, _, err := sample()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var lags []int64
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	deadline := time.Now().Add(*timeout)
	var cmdErr error
loop:
	for {
		select {
		case cmdErr = <-done:
			break loop
		case <-tick.C:
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				return errors.New("lag: timeout")
			}
			mo, ro, err := sample()
			if err != nil {
				cmd.Process.Kill()
				return err
			}
			if r != nil {
				lags = append(lags, mo-ro)
			}
		}
	}
	tEnd := time.Now()
	if cmdErr != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), cmdErr)
	}
	mo, ro, err := sample()
	if err != nil {
		return err
	}
	lagEnd := int64(0)
	catch := time.Duration(0)
	if r != nil {
		lagEnd = mo - ro
		for mo > ro {
			if time.Since(tEnd) > *catchup {
				catch = -time.Millisecond
				break
			}
			time.Sleep(5 * time.Millisecond)
			if mo, ro, err = sample(); err != nil {
				return err
			}
		}
		if catch == 0 {
			catch = time.Since(tEnd)
		}
	}
	mcpu, rcpu := procstat.CPUMillis(*mpid)-mcpu0, procstat.CPUMillis(*rpid)-rcpu0
	ccpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	slices.Sort(lags)
	fmt.Printf("cmd_ms=%.0f samples=%d lag_p50=%d lag_p99=%d lag_max=%d lag_end=%d catchup_ms=%.0f repl_bytes=%d mcpu_ms=%d rcpu_ms=%d ccpu_ms=%.0f\n",
		ms(tEnd.Sub(t0)), len(lags), pct(lags, 50), pct(lags, 99), pct(lags, 100), lagEnd, ms(catch), mo-mo0, mcpu, rcpu, ms(ccpu))
	return nil
}

// pct is the p-th percentile (nearest rank) of sorted v; 0 if empty.
func pct(v []int64, p int) int64 {
	if len(v) == 0 {
		return 0
	}
	i := (len(v)*p + 99) / 100
	return v[max(i, 1)-1]
}

// ---- sync ----

func syncCmd(args []string) error {
	fs := flag.NewFlagSet("sync", flag.ExitOnError)
	mport := fs.Int("m", 0, "master port")
	rport := fs.Int("r", 0, "replica port")
	mpid := fs.Int("mpid", 0, "master process id (CPU time, memory)")
	rpid := fs.Int("rpid", 0, "replica process id (CPU time, memory)")
	poll := fs.Duration("poll", 10*time.Millisecond, "INFO poll interval")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after")
	fs.Parse(args)
	if *mport == 0 || *rport == 0 {
		usage()
	}
	m, err := dialInfo(*mport, *timeout)
	if err != nil {
		return err
	}
	defer m.Close()
	r, err := dialInfo(*rport, *timeout)
	if err != nil {
		return err
	}
	defer r.Close()
	mcpu0, rcpu0 := procstat.CPUMillis(*mpid), procstat.CPUMillis(*rpid)
	mrss0, rrss0 := treeRSS(*mpid), treeRSS(*rpid)
	var mpeak, rpeak int64
	t0 := time.Now()
	if _, err := r.do("REPLICAOF", "127.0.0.1", strconv.Itoa(*mport)); err != nil {
		return err
	}
	syncSeen, loadStart, loadEnd := time.Duration(-1), time.Duration(-1), time.Duration(-1)
	deadline := t0.Add(*timeout)
	for {
		mpeak, rpeak = max(mpeak, treeRSS(*mpid)-mrss0), max(rpeak, treeRSS(*rpid)-rrss0)
		ri, err := r.info("replication")
		if err != nil {
			return err
		}
		pi, err := r.info("persistence")
		if err != nil {
			return err
		}
		now := time.Since(t0)
		if ri["master_sync_in_progress"] == "1" && syncSeen < 0 {
			syncSeen = now
		}
		if pi["loading"] == "1" {
			if loadStart < 0 {
				loadStart = now
			}
			loadEnd = now
		}
		if ri["master_link_status"] == "up" && ri["master_sync_in_progress"] == "0" {
			mi, err := m.info("replication")
			if err != nil {
				return err
			}
			if mi["master_repl_offset"] != "" && mi["master_repl_offset"] == ri["slave_repl_offset"] {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sync: timeout; replica INFO: link %s, sync_in_progress %s, offset %s",
				ri["master_link_status"], ri["master_sync_in_progress"], ri["slave_repl_offset"])
		}
		time.Sleep(*poll)
	}
	wall := time.Since(t0)
	loading := time.Duration(0)
	if loadStart >= 0 {
		loading = loadEnd - loadStart + *poll
	}
	fmt.Printf("wall_ms=%.0f sync_seen_ms=%.0f loading_start_ms=%.0f loading_ms=%.0f mcpu_ms=%d rcpu_ms=%d m_extra_rss_kb=%d r_extra_rss_kb=%d\n",
		ms(wall), ms(syncSeen), ms(loadStart), ms(loading), procstat.CPUMillis(*mpid)-mcpu0, procstat.CPUMillis(*rpid)-rcpu0, mpeak, rpeak)
	return nil
}

func ms(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return float64(d) / 1e6
}

// treeRSS is the VmRSS of pid plus its children's, in kB (0 for what
// cannot be read).
func treeRSS(pid int) int64 {
	if pid == 0 {
		return 0
	}
	t := max(procstat.RSSKB(pid), 0)
	for _, c := range procstat.Children(pid) {
		t += max(procstat.RSSKB(c), 0)
	}
	return t
}

// ---- a minimal RESP client ----

type infoConn struct {
	net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func dialInfo(port int, timeout time.Duration) (*infoConn, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &infoConn{Conn: c, r: bufio.NewReader(c), timeout: timeout}, nil
}

// do sends a command and returns its reply: a bulk string's or simple
// string's content; an error reply is an error.
func (c *infoConn) do(args ...string) (string, error) {
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.Write(b); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '-':
		return "", fmt.Errorf("%s: %s", args[0], line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("%s: reply %q", args[0], line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return line[1:], nil
	}
}

func (c *infoConn) info(section string) (map[string]string, error) {
	s, err := c.do("INFO", section)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

func (c *infoConn) offset(field string) (int64, error) {
	m, err := c.info("replication")
	if err != nil {
		return 0, err
	}
	v, ok := m[field]
	if !ok {
		return 0, fmt.Errorf("INFO replication has no %s", field)
	}
	return strconv.ParseInt(v, 10, 64)
}
