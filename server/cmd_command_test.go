package server

import (
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestCommandInfoMatchesRedis(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	// Byte-exact replies captured from redis-server 7.0.15.
	admExpect(t, r, "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n"+
		"*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n"+
		"$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n",
		"COMMAND", "INFO", "get")
	admExpect(t, r, "*2\r\n*10\r\n$10\r\nconfig|set\r\n:-4\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n"+
		"*2\r\n$24\r\nrequest_policy:all_nodes\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n$-1\r\n",
		"COMMAND", "INFO", "config|set", "nosuch")
	// Containers list their subcommands; a bare container is just @slow.
	info := r.do("COMMAND", "INFO", "config")
	if !strings.HasPrefix(info, "*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n") {
		t.Fatalf("COMMAND INFO config = %q", info)
	}
	admExpect(t, r, "*1\r\n*10\r\n$8\r\nshutdown\r\n:-1\r\n*6\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n+no_multi\r\n+allow_busy\r\n"+
		":0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n", "COMMAND", "INFO", "shutdown")
	// RESP3 uses sets.
	r.do("HELLO", "3")
	if got := r.do("COMMAND", "INFO", "time"); got != "*1\r\n*10\r\n$4\r\ntime\r\n:1\r\n~3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~1\r\n+@fast\r\n~1\r\n$23\r\nnondeterministic_output\r\n~0\r\n~0\r\n" {
		t.Fatalf("RESP3 COMMAND INFO time = %q", got)
	}
}

func TestCommandCountListDocs(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	n, err := rdb.CommandList(ctx, nil).Result()
	if err != nil {
		t.Fatal(err)
	}
	count := rdb.Do(ctx, "COMMAND", "COUNT").Val().(int64)
	if count != int64(ts.Table().Len()) {
		t.Fatalf("COMMAND COUNT = %d, table has %d", count, ts.Table().Len())
	}
	subs := 0
	for _, name := range n {
		if strings.Contains(name, "|") {
			subs++
		}
	}
	if len(n)-subs != int(count) || subs == 0 {
		t.Fatalf("COMMAND LIST: %d names, %d subcommands, count %d", len(n), subs, count)
	}
	pat, _ := rdb.CommandList(ctx, &redisFilterPattern).Result()
	sort.Strings(pat)
	if strings.Join(pat, ",") != "config,config|get,config|help,config|resetstat,config|rewrite,config|set" {
		t.Fatalf("FILTERBY PATTERN config* = %v", pat)
	}
	tx := rdb.Do(ctx, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "transaction").Val().([]any)
	if len(tx) != 5 {
		t.Fatalf("ACLCAT transaction = %v", tx)
	}
	if got := rdb.Do(ctx, "COMMAND", "LIST", "FILTERBY", "MODULE", "x").Val().([]any); len(got) != 0 {
		t.Fatalf("MODULE filter = %v", got)
	}
	admExpect(t, ts.raw(t), "-ERR syntax error\r\n", "COMMAND", "LIST", "FILTERBY", "foo", "bar")
	// go-redis parses the full COMMAND reply (it uses it for cluster key
	// routing).
	cmds, err := rdb.Command(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if g := cmds["get"]; g == nil || g.Arity != 2 || g.FirstKeyPos != 1 || !g.ReadOnly {
		t.Fatalf("go-redis COMMAND get = %+v", g)
	}
	// DOCS: summary/since/group, and subcommands for containers.
	r := ts.raw(t)
	docs := r.do("COMMAND", "DOCS", "config|help")
	if docs != "*2\r\n$11\r\nconfig|help\r\n*6\r\n$7\r\nsummary\r\n$49\r\nShow helpful text about the different subcommands\r\n$5\r\nsince\r\n$5\r\n5.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n" {
		t.Fatalf("COMMAND DOCS config|help = %q", docs)
	}
	if got := r.do("COMMAND", "DOCS", "config"); !strings.Contains(got, "$11\r\nsubcommands\r\n*10\r\n$10\r\nconfig|get\r\n") {
		t.Fatalf("COMMAND DOCS config = %q", got)
	}
	admExpect(t, r, "*0\r\n", "COMMAND", "DOCS", "nosuch")
	all := rdb.Do(ctx, "COMMAND", "DOCS").Val().(map[any]any)
	if len(all) != int(count) {
		t.Fatalf("COMMAND DOCS has %d entries, want %d", len(all), count)
	}
}

var redisFilterPattern = redis.FilterBy{Pattern: "config*"}

func TestCommandGetKeys(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	admExpect(t, r, "*1\r\n$1\r\nk\r\n", "COMMAND", "GETKEYS", "get", "k")
	admExpect(t, r, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "COMMAND", "GETKEYS", "mset", "a", "1", "b", "2")
	admExpect(t, r, "-ERR Invalid command specified\r\n", "COMMAND", "GETKEYS", "nosuch", "a")
	admExpect(t, r, "-ERR Invalid number of arguments specified for command\r\n", "COMMAND", "GETKEYS", "get", "k", "x")
	admExpect(t, r, "-ERR The command has no key arguments\r\n", "COMMAND", "GETKEYS", "config", "get", "x")
	admExpect(t, r, "-ERR wrong number of arguments for 'command|getkeys' command\r\n", "COMMAND", "GETKEYS", "get")
	admExpect(t, r, "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n", "COMMAND", "foo")
	if help := r.do("COMMAND", "HELP"); !strings.Contains(help, "+GETKEYS <full-command>\r\n") {
		t.Fatalf("COMMAND HELP = %q", help)
	}
}

func TestCategoriesOrder(t *testing.T) {
	ts := startServer(t)
	for name, want := range map[string]string{
		"get":         "@read @string @fast",
		"set":         "@write @string @slow",
		"multi":       "@fast @transaction",
		"ping":        "@fast @connection",
		"config|get":  "@admin @slow @dangerous",
		"client|list": "@admin @slow @dangerous @connection",
		"client|id":   "@slow @connection",
		"command":     "@slow @connection",
		"info":        "@slow @dangerous",
		"lastsave":    "@admin @fast @dangerous",
	} {
		cmd := ts.lookupCommandName(name)
		if cmd == nil {
			t.Fatalf("%s missing", name)
		}
		if got := strings.Join(cmd.Categories(), " "); got != want {
			t.Errorf("%s categories %q, want %q", name, got, want)
		}
	}
}
