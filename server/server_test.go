package server

import (
	"testing"
)

func TestPingSetGetRESP3(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	if got := rdb.Ping(ctx).Val(); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := rdb.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("GET = %q", got)
	}
}

func TestRawErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	if got := r.do("GET"); got != "-ERR wrong number of arguments for 'get' command\r\n" {
		t.Fatalf("arity: %q", got)
	}
	if got := r.do("NOPE", "a"); got != "-ERR unknown command 'NOPE', with args beginning with: 'a' \r\n" {
		t.Fatalf("unknown: %q", got)
	}
	if got := r.do("GET", "missing"); got != "$-1\r\n" {
		t.Fatalf("missing: %q", got)
	}
}
