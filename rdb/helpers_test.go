package rdb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// value is a key's content in a form that compares equal whatever encoding
// or order the file used: the test model.
type value struct {
	typ    ValueType
	str    string
	hash   map[string]string
	list   []string
	set    map[string]bool
	zset   map[string]float64
	expire int64 // absolute ms, -1 for none
}

// dataset is db -> key -> value.
type dataset map[int]map[string]value

func (d dataset) put(db int, key string, v value) {
	if d[db] == nil {
		d[db] = map[string]value{}
	}
	d[db][key] = v
}

func strVal(s string, expire int64) value { return value{typ: TypeString, str: s, expire: expire} }

func hashVal(expire int64, kv ...string) value {
	h := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return value{typ: TypeHash, hash: h, expire: expire}
}

func listVal(expire int64, elems ...string) value {
	return value{typ: TypeList, list: elems, expire: expire}
}

func setVal(expire int64, members ...string) value {
	s := map[string]bool{}
	for _, m := range members {
		s[m] = true
	}
	return value{typ: TypeSet, set: s, expire: expire}
}

func zsetVal(expire int64, m map[string]float64) value {
	return value{typ: TypeZSet, zset: m, expire: expire}
}

// entryValue converts a decoded key to the model.
func entryValue(t testing.TB, e *Entry) value {
	t.Helper()
	v := value{typ: e.Type, expire: e.ExpireMs}
	switch e.Type {
	case TypeString:
		v.str = e.Str
	case TypeHash:
		v.hash = map[string]string{}
		for _, p := range e.Hash {
			v.hash[p.Field] = p.Value
		}
		if len(v.hash) != len(e.Hash) {
			t.Errorf("key %q: duplicate hash fields", e.Key)
		}
	case TypeList:
		v.list = e.List
	case TypeSet:
		v.set = map[string]bool{}
		for _, m := range e.Set {
			v.set[m] = true
		}
		if len(v.set) != len(e.Set) {
			t.Errorf("key %q: duplicate set members", e.Key)
		}
	case TypeZSet:
		v.zset = map[string]float64{}
		for _, m := range e.ZSet {
			v.zset[m.Member] = m.Score
		}
	default:
		t.Errorf("key %q: unexpected type %v", e.Key, e.Type)
	}
	return v
}

// decodeAll reads a whole stream into a dataset, with the AUX fields.
func decodeAll(t testing.TB, data []byte, opts ReaderOptions) (dataset, map[string]string, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, nil, err
	}
	ds, aux := dataset{}, map[string]string{}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return ds, aux, nil
		}
		if err != nil {
			return ds, aux, err
		}
		switch e.Kind {
		case EntryAux:
			aux[e.AuxKey] = e.AuxValue
		case EntryKey:
			if _, dup := ds[e.DB][e.Key]; dup {
				t.Errorf("db %d key %q appears twice", e.DB, e.Key)
			}
			ds.put(e.DB, e.Key, entryValue(t, e))
		}
	}
}

// compareDatasets reports every difference between want and got.
func compareDatasets(t testing.TB, want, got dataset) {
	t.Helper()
	for db, keys := range want {
		for k, wv := range keys {
			gv, ok := got[db][k]
			if !ok {
				t.Errorf("db %d: key %q missing", db, abbrev(k))
				continue
			}
			if !reflect.DeepEqual(normalize(wv), normalize(gv)) {
				t.Errorf("db %d: key %q differs:\n got  %s\n want %s", db, abbrev(k), describe(gv), describe(wv))
			}
		}
	}
	for db, keys := range got {
		for k := range keys {
			if _, ok := want[db][k]; !ok {
				t.Errorf("db %d: unexpected key %q", db, abbrev(k))
			}
		}
	}
}

// normalize makes empty and nil collections compare equal.
func normalize(v value) value {
	if len(v.list) == 0 {
		v.list = nil
	}
	return v
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:60] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

func describe(v value) string {
	s := fmt.Sprintf("%v expire=%d", v.typ, v.expire)
	switch v.typ {
	case TypeString:
		s += fmt.Sprintf(" %q", abbrev(v.str))
	case TypeHash:
		s += fmt.Sprintf(" %d fields", len(v.hash))
	case TypeList:
		s += fmt.Sprintf(" %d elements", len(v.list))
	case TypeSet:
		s += fmt.Sprintf(" %d members", len(v.set))
	case TypeZSet:
		s += fmt.Sprintf(" %d members", len(v.zset))
	}
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// writeDataset writes ds with w, DBs in order, keys sorted.
func writeDataset(t testing.TB, w *Writer, ds dataset, aux []Aux) {
	t.Helper()
	if err := w.Header(aux); err != nil {
		t.Fatal(err)
	}
	dbs := make([]int, 0, len(ds))
	for db := range ds {
		dbs = append(dbs, db)
	}
	sort.Ints(dbs)
	for _, db := range dbs {
		keys := make([]string, 0, len(ds[db]))
		var expires uint64
		for k, v := range ds[db] {
			keys = append(keys, k)
			if v.expire >= 0 {
				expires++
			}
		}
		sort.Strings(keys)
		if err := w.SelectDB(db, uint64(len(keys)), expires); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := writeValue(w, k, ds[db][k]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeValue(w *Writer, k string, v value) error {
	switch v.typ {
	case TypeString:
		return w.String(k, v.str, v.expire)
	case TypeHash:
		return w.Hash(k, len(v.hash), func(yield func(f, v string) bool) {
			for f, val := range v.hash {
				if !yield(f, val) {
					return
				}
			}
		}, v.expire)
	case TypeList:
		return w.List(k, len(v.list), func(yield func(string) bool) {
			for _, e := range v.list {
				if !yield(e) {
					return
				}
			}
		}, v.expire)
	case TypeSet:
		return w.Set(k, len(v.set), func(yield func(string) bool) {
			for m := range v.set {
				if !yield(m) {
					return
				}
			}
		}, v.expire)
	case TypeZSet:
		return w.ZSet(k, len(v.zset), func(yield func(string, float64) bool) {
			for m, s := range v.zset {
				if !yield(m, s) {
					return
				}
			}
		}, v.expire)
	}
	return fmt.Errorf("bad type %v", v.typ)
}

// encodeDataset returns ds as an RDB file.
func encodeDataset(t testing.TB, ds dataset, opts WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, opts)
	writeDataset(t, w, ds, []Aux{{"redis-ver", "7.0.15"}, {"redis-bits", "64"}, {"ctime", "1700000000"}, {"used-mem", "1000000"}, {"aof-base", "0"}})
	if w.Written() != int64(buf.Len()) {
		t.Fatalf("Written() = %d, wrote %d bytes", w.Written(), buf.Len())
	}
	return buf.Bytes()
}

// --- stock Redis ---------------------------------------------------------

const redisServerBin = "/usr/bin/redis-server"

// needRedis skips the test when stock Redis is not installed (CI has it).
func needRedis(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(redisServerBin); err != nil {
		t.Skipf("%s not installed: %v", redisServerBin, err)
	}
}

// checkRDB runs redis-check-rdb on path and fails the test unless it
// accepts the file.
func checkRDB(t *testing.T, path string) {
	t.Helper()
	bin := "/usr/bin/redis-check-rdb"
	if _, err := os.Stat(bin); err != nil {
		t.Logf("redis-check-rdb not installed; skipping the check of %s", path)
		return
	}
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
		t.Fatalf("redis-check-rdb %s: %v\n%s", path, err, out)
	}
}

// redisServer is a stock redis-server this test started.
type redisServer struct {
	cmd  *exec.Cmd
	dir  string
	log  *syncBuffer
	conn *respConn
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts redis-server in dir loading dbfile (if it exists), on a
// free port of 127.0.0.1, with persistence off and extra config args.
func startRedis(t *testing.T, dir, dbfile string, extra ...string) *redisServer {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStartRedis(t, dir, dbfile, extra)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatal(lastErr)
	return nil
}

func tryStartRedis(t *testing.T, dir, dbfile string, extra []string) (*redisServer, error) {
	port := freePort(t)
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--dbfilename", dbfile, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", "", "--protected-mode", "no",
	}, extra...)
	cmd := exec.Command(redisServerBin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	s := &redisServer{cmd: cmd, dir: dir, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("redis-server exited during startup:\n%s", s.log.String())
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			s.conn = &respConn{c: c, r: bufio.NewReader(c)}
			// PING answers -LOADING until the dataset is in.
			if rep, err := s.conn.do("PING"); err == nil && rep == "PONG" {
				t.Cleanup(s.stop)
				return s, nil
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server did not come up on port %d:\n%s", port, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.conn != nil {
		s.conn.c.Close()
	}
	s.cmd.Process.Kill()
	<-s.done
}

// must runs a command and fails the test on an error reply.
func (s *redisServer) must(t testing.TB, args ...string) any {
	t.Helper()
	rep, err := s.conn.do(args...)
	if err != nil {
		t.Fatalf("%v: %v\nredis log:\n%s", args, err, s.log.String())
	}
	return rep
}

// respConn is a minimal RESP2 client: enough to drive a test server
// binary-safely without depending on a client library's behaviour.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

// redisError is an error reply.
type redisError string

func (e redisError) Error() string { return string(e) }

// do sends a command and returns its reply: string (status or bulk), nil,
// int64, []any, or an error (redisError for an error reply).
func (c *respConn) do(args ...string) (any, error) {
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.c.Write(b); err != nil {
		return nil, err
	}
	rep, err := c.read()
	if err != nil {
		return nil, err
	}
	if e, ok := rep.(redisError); ok {
		return nil, e
	}
	return rep, nil
}

func (c *respConn) read() (any, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return redisError(line[1:]), nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		p := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		return string(p[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = c.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad reply line %q", line)
}

func strs(t testing.TB, rep any) []string {
	t.Helper()
	arr, ok := rep.([]any)
	if !ok {
		t.Fatalf("expected an array reply, got %#v", rep)
	}
	out := make([]string, len(arr))
	for i, a := range arr {
		out[i], ok = a.(string)
		if !ok {
			t.Fatalf("expected strings, got %#v", rep)
		}
	}
	return out
}

// fetchDataset reads every key of DBs 0..15 from a live server, with the
// absolute expiry from PEXPIRETIME.
func fetchDataset(t *testing.T, s *redisServer) dataset {
	t.Helper()
	ds := dataset{}
	for db := 0; db < 16; db++ {
		s.must(t, "SELECT", strconv.Itoa(db))
		keys := strs(t, s.must(t, "KEYS", "*"))
		if n := s.must(t, "DBSIZE").(int64); n != int64(len(keys)) {
			t.Fatalf("db %d: DBSIZE %d, KEYS lists %d", db, n, len(keys))
		}
		for _, k := range keys {
			v := value{expire: s.must(t, "PEXPIRETIME", k).(int64)}
			if pttl := s.must(t, "PTTL", k).(int64); (pttl > 0) != (v.expire >= 0) {
				t.Errorf("db %d key %q: PTTL %d with PEXPIRETIME %d", db, abbrev(k), pttl, v.expire)
			}
			switch typ := s.must(t, "TYPE", k).(string); typ {
			case "string":
				v.typ, v.str = TypeString, s.must(t, "GET", k).(string)
			case "hash":
				v = hashVal(v.expire, strs(t, s.must(t, "HGETALL", k))...)
			case "list":
				v = listVal(v.expire, strs(t, s.must(t, "LRANGE", k, "0", "-1"))...)
			case "set":
				v = setVal(v.expire, strs(t, s.must(t, "SMEMBERS", k))...)
			case "zset":
				flat := strs(t, s.must(t, "ZRANGE", k, "0", "-1", "WITHSCORES"))
				m := map[string]float64{}
				for i := 0; i+1 < len(flat); i += 2 {
					f, err := strconv.ParseFloat(flat[i+1], 64)
					if err != nil {
						t.Fatalf("score %q: %v", flat[i+1], err)
					}
					m[flat[i]] = f
				}
				v = zsetVal(v.expire, m)
			default:
				t.Fatalf("db %d key %q: unexpected type %s", db, k, typ)
			}
			ds.put(db, k, v)
		}
	}
	s.must(t, "SELECT", "0")
	return ds
}

// loadDataset writes ds into a live server with ordinary commands.
func loadDataset(t *testing.T, s *redisServer, ds dataset) {
	t.Helper()
	for db, keys := range ds {
		s.must(t, "SELECT", strconv.Itoa(db))
		for k, v := range keys {
			switch v.typ {
			case TypeString:
				s.must(t, "SET", k, v.str)
			case TypeHash:
				args := []string{"HSET", k}
				for f, val := range v.hash {
					args = append(args, f, val)
				}
				s.must(t, args...)
			case TypeList:
				for chunk := range slices.Chunk(v.list, 500) {
					s.must(t, append([]string{"RPUSH", k}, chunk...)...)
				}
			case TypeSet:
				args := []string{"SADD", k}
				for m := range v.set {
					args = append(args, m)
				}
				s.must(t, args...)
			case TypeZSet:
				args := []string{"ZADD", k}
				for m, sc := range v.zset {
					args = append(args, formatScore(sc), m)
				}
				s.must(t, args...)
			}
			if v.expire >= 0 {
				s.must(t, "PEXPIREAT", k, strconv.FormatInt(v.expire, 10))
			}
		}
	}
	s.must(t, "SELECT", "0")
}

// formatScore formats a score the way Redis replies with it (%.17g).
func formatScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// writeTemp writes data to name in a new temporary directory.
func writeTemp(t *testing.T, name string, data []byte) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}
