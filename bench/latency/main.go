// Command latency measures the round-trip latency of one Redis command for
// a fixed time: each of -c clients sends the command, waits for the reply
// and sends it again until -d has passed, and the program prints the
// request rate and latency percentiles of all clients together on one
// line:
//
//	requests=51234 rps=17078 p50_ms=0.047 p90_ms=0.071 p99_ms=0.143 p999_ms=0.412 max_ms=3.210 errors=0
//
// bench/sql-benchmark.sh uses it where redis-benchmark's fixed request
// count would make a run's length unbounded (a starved server answers
// slowly). Only simple replies are read: status, error, integer and bulk
// strings, as GET, SET, PING and INCR return.
//
//	go run ./bench/latency -p 6379 -c 1 -d 5s GET somekey
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

func main() {
	host := flag.String("h", "127.0.0.1", "server host")
	port := flag.Int("p", 6379, "server port")
	clients := flag.Int("c", 1, "parallel clients, one connection each")
	dur := flag.Duration("d", 5*time.Second, "how long to send requests")
	procs := flag.Int("procs", 1, "GOMAXPROCS of this client (1: one thread, as redis-benchmark)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: latency [-h host] [-p port] [-c clients] [-d duration] command [arg ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *clients < 1 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*procs)
	req := encode(flag.Args())
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))

	conns := make([]net.Conn, *clients)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "latency:", err)
			os.Exit(1)
		}
		conns[i] = c
	}
	results := make([][]time.Duration, *clients)
	errs := make([]int, *clients)
	var failed error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*dur)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			r := bufio.NewReader(c)
			lat := make([]time.Duration, 0, 1<<16)
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if _, err := c.Write(req); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					break
				}
				isErr, err := readReply(r)
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					break
				}
				lat = append(lat, time.Since(t0))
				if isErr {
					errs[i]++
				}
			}
			results[i] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed != nil {
		fmt.Fprintln(os.Stderr, "latency:", failed)
		os.Exit(1)
	}
	var all []time.Duration
	nerr := 0
	for i, l := range results {
		all = append(all, l...)
		nerr += errs[i]
	}
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "latency: no request completed")
		os.Exit(1)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i]) / 1e6
	}
	fmt.Printf("requests=%d rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=%d\n",
		len(all), float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.90), pct(0.99), pct(0.999),
		float64(all[len(all)-1])/1e6, nerr)
}

// encode returns args as a RESP array of bulk strings.
func encode(args []string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// readReply reads one simple reply and reports whether it was an error.
func readReply(r *bufio.Reader) (bool, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if len(line) < 3 {
		return false, fmt.Errorf("short reply %q", line)
	}
	switch line[0] {
	case '+', ':':
		return false, nil
	case '-':
		return true, nil
	case '$':
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return false, fmt.Errorf("bad bulk length %q", line)
		}
		if n >= 0 {
			if _, err := r.Discard(n + 2); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("unsupported reply type %q", line[0])
}
