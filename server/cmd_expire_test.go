package server

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thredis/thredis/keyspace"
)

func TestExpireCommands(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	rdb.Set(ctx, "k", "v", 0)
	if d := rdb.TTL(ctx, "k").Val(); d != -1 {
		t.Fatalf("TTL without expiry = %v, want -1", d)
	}
	if d := rdb.TTL(ctx, "nope").Val(); d != -2 {
		t.Fatalf("TTL of a missing key = %v, want -2", d)
	}
	if ok := rdb.Expire(ctx, "k", 100*time.Second).Val(); !ok {
		t.Fatal("EXPIRE failed")
	}
	if d := rdb.TTL(ctx, "k").Val(); d != 100*time.Second {
		t.Fatalf("TTL = %v, want 100s", d)
	}
	if d := rdb.PTTL(ctx, "k").Val(); d <= 99*time.Second || d > 100*time.Second {
		t.Fatalf("PTTL = %v", d)
	}
	if ok := rdb.Expire(ctx, "nope", time.Second).Val(); ok {
		t.Fatal("EXPIRE of a missing key succeeded")
	}
	if ok := rdb.PExpire(ctx, "k", 5800*time.Millisecond).Val(); !ok {
		t.Fatal("PEXPIRE failed")
	}
	if d := rdb.TTL(ctx, "k").Val(); d != 6*time.Second { // rounded to the nearest second
		t.Fatalf("TTL after PEXPIRE 5800 = %v, want 6s", d)
	}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	if ok := rdb.ExpireAt(ctx, "k", at).Val(); !ok {
		t.Fatal("EXPIREAT failed")
	}
	if got := rdb.ExpireTime(ctx, "k").Val(); got != time.Duration(at.Unix())*time.Second {
		t.Fatalf("EXPIRETIME = %v, want %v", got, at.Unix())
	}
	atMs := time.Now().Add(2 * time.Hour).UnixMilli()
	if ok := rdb.PExpireAt(ctx, "k", time.UnixMilli(atMs)).Val(); !ok {
		t.Fatal("PEXPIREAT failed")
	}
	if got := rdb.PExpireTime(ctx, "k").Val(); got != time.Duration(atMs)*time.Millisecond {
		t.Fatalf("PEXPIRETIME = %v, want %v ms", got, atMs)
	}
	if got := rdb.ExpireTime(ctx, "nope").Val(); got != -2 {
		t.Fatalf("EXPIRETIME of a missing key = %v", got)
	}
	if ok := rdb.Persist(ctx, "k").Val(); !ok {
		t.Fatal("PERSIST failed")
	}
	if ok := rdb.Persist(ctx, "k").Val(); ok {
		t.Fatal("PERSIST of a key without TTL succeeded")
	}
	if got := rdb.ExpireTime(ctx, "k").Val(); got != -1 {
		t.Fatalf("EXPIRETIME after PERSIST = %v", got)
	}
	// A time in the past deletes the key at once.
	if ok := rdb.Expire(ctx, "k", -time.Second).Val(); !ok {
		t.Fatal("EXPIRE with a negative time failed")
	}
	if rdb.Exists(ctx, "k").Val() != 0 || rdb.DBSize(ctx).Val() != 0 {
		t.Fatal("key with a past expiry still exists")
	}
	// Keys really expire.
	rdb.Set(ctx, "short", "v", 0)
	rdb.PExpire(ctx, "short", 30*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	if rdb.Exists(ctx, "short").Val() != 0 {
		t.Fatal("key outlived its TTL")
	}
}

func TestExpireConditions(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	rdb.Set(ctx, "k", "v", 0)
	step := func(what string, ok, want bool) {
		t.Helper()
		if ok != want {
			t.Fatalf("%s = %v, want %v", what, ok, want)
		}
	}
	// Without a TTL: XX and GT fail (no TTL counts as infinite), NX and LT succeed.
	step("XX without ttl", rdb.ExpireXX(ctx, "k", 100*time.Second).Val(), false)
	step("GT without ttl", rdb.ExpireGT(ctx, "k", 100*time.Second).Val(), false)
	step("LT without ttl", rdb.ExpireLT(ctx, "k", 100*time.Second).Val(), true)
	rdb.Persist(ctx, "k")
	step("NX without ttl", rdb.ExpireNX(ctx, "k", 100*time.Second).Val(), true)
	step("NX with ttl", rdb.ExpireNX(ctx, "k", 50*time.Second).Val(), false)
	step("XX with ttl", rdb.ExpireXX(ctx, "k", 80*time.Second).Val(), true)
	step("GT smaller", rdb.ExpireGT(ctx, "k", 50*time.Second).Val(), false)
	// An equal expiry is not greater: compare absolute times, since two
	// relative EXPIREs a few milliseconds apart are not equal.
	cur := rdb.Do(ctx, "PEXPIRETIME", "k").Val()
	equal, _ := rdb.Do(ctx, "PEXPIREAT", "k", cur, "GT").Int()
	step("GT equal", equal == 1, false)
	step("GT larger", rdb.ExpireGT(ctx, "k", 200*time.Second).Val(), true)
	step("LT larger", rdb.ExpireLT(ctx, "k", 300*time.Second).Val(), false)
	step("LT smaller", rdb.ExpireLT(ctx, "k", 150*time.Second).Val(), true)
	if d := rdb.TTL(ctx, "k").Val(); d != 150*time.Second {
		t.Fatalf("TTL = %v, want 150s", d)
	}
	step("NX on a missing key", rdb.ExpireNX(ctx, "nope", time.Second).Val(), false)
	// Options are case-insensitive and work for every form.
	r := ts.raw(t)
	expectRaw(t, r, ":1\r\n", "PEXPIRE", "k", "100000", "lt")
	expectRaw(t, r, ":0\r\n", "PEXPIREAT", "k", "1", "Gt")
	expectRaw(t, r, ":1\r\n", "EXPIREAT", "k", strconv.FormatInt(time.Now().Unix()+1000, 10), "xX")
}

func TestExpireErrors(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	r.do("SET", "k", "v")
	const nxErr = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
	const gtltErr = "-ERR GT and LT options at the same time are not compatible\r\n"
	expectRaw(t, r, nxErr, "EXPIRE", "k", "100", "NX", "XX")
	expectRaw(t, r, nxErr, "EXPIRE", "k", "100", "nx", "gt")
	expectRaw(t, r, nxErr, "PEXPIRE", "k", "100", "LT", "NX")
	expectRaw(t, r, gtltErr, "EXPIREAT", "k", "100", "GT", "LT")
	expectRaw(t, r, gtltErr, "PEXPIREAT", "k", "100", "lt", "gt")
	// Every option is read before the checks, and before the time.
	expectRaw(t, r, "-ERR Unsupported option foo\r\n", "EXPIRE", "k", "100", "NX", "foo")
	expectRaw(t, r, "-ERR Unsupported option FOO\r\n", "EXPIRE", "k", "abc", "FOO")
	expectRaw(t, r, nxErr, "EXPIRE", "k", "abc", "NX", "XX")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "k", "abc")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "PEXPIRE", "k", "1.5")
	expectRaw(t, r, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "k", "")
	// Overflow, by unit conversion or by adding the current time.
	expectRaw(t, r, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k", "9223372036854775807")
	expectRaw(t, r, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k", "9223372036854770")
	expectRaw(t, r, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k", "-9223372036854775808")
	expectRaw(t, r, "-ERR invalid expire time in 'pexpire' command\r\n", "PEXPIRE", "k", "9223372036854775807")
	expectRaw(t, r, "-ERR invalid expire time in 'expireat' command\r\n", "EXPIREAT", "k", "9223372036854775807")
	expectRaw(t, r, "-ERR invalid expire time in 'expireat' command\r\n", "EXPIREAT", "k", "-9223372036854776")
	expectRaw(t, r, ":1\r\n", "PEXPIREAT", "k", "9223372036854775807")
	expectRaw(t, r, ":9223372036854775807\r\n", "PEXPIRETIME", "k")
	expectRaw(t, r, ":9223372036854776\r\n", "EXPIRETIME", "k") // rounded, not overflowed
	expectRaw(t, r, ":1\r\n", "EXPIREAT", "k", "9223372036854775")
	expectRaw(t, r, ":9223372036854775000\r\n", "PEXPIRETIME", "k")
	for _, cmd := range []string{"expire", "pexpire", "expireat", "pexpireat"} {
		expectRaw(t, r, "-ERR wrong number of arguments for '"+cmd+"' command\r\n", cmd, "k")
	}
	for _, cmd := range []string{"ttl", "pttl", "expiretime", "pexpiretime", "persist"} {
		expectRaw(t, r, "-ERR wrong number of arguments for '"+cmd+"' command\r\n", cmd, "k", "x")
	}
	expectRaw(t, r, ":-2\r\n", "TTL", "nope")
	expectRaw(t, r, ":-2\r\n", "PTTL", "nope")
	expectRaw(t, r, ":-2\r\n", "PEXPIRETIME", "nope")
	expectRaw(t, r, ":0\r\n", "PERSIST", "nope")
}

func TestExpirePropagation(t *testing.T) {
	ts := startServer(t)
	logged := ktLog(t, ts)
	r := ts.raw(t)
	r.do("SELECT", "4")
	r.do("SET", "k", "v")
	before := time.Now().UnixMilli()
	r.do("EXPIRE", "k", "100")
	r.do("PEXPIRE", "k", "200000", "GT")
	after := time.Now().UnixMilli()
	r.do("EXPIREAT", "k", "4000000000")
	r.do("PEXPIREAT", "k", "4000000000123", "xx")
	r.do("EXPIRE", "k", "5", "NX") // refused: nothing
	r.do("EXPIRE", "nope", "5")    // no key: nothing
	r.do("PERSIST", "k")
	r.do("PERSIST", "k") // no TTL left: nothing
	r.do("EXPIRE", "k", "-1")
	r.do("SET", "k2", "v")
	r.do("PEXPIREAT", "k2", "1")
	r.do("SET", "k3", "v")
	ktSetTTL(t, ts, 4, "k3", time.Now().UnixMilli()-1)
	r.do("EXPIRE", "k3", "100") // the key had already expired: only its DEL
	r.do("TTL", "k")

	got := logged()
	want := []string{
		"4:SET k v", "4:PEXPIREAT k <t1>", "4:PEXPIREAT k <t2> GT", "4:PEXPIREAT k 4000000000000",
		"4:PEXPIREAT k 4000000000123 xx", "4:PERSIST k", "4:DEL k", "4:SET k2 v", "4:DEL k2", "4:SET k3 v", "4:DEL k3",
	}
	if len(got) != len(want) {
		t.Fatalf("command log:\n got %q\nwant %q", got, want)
	}
	checkAbs := func(op string, prefix string, rel int64, suffix string) {
		t.Helper()
		rest, ok := strings.CutPrefix(op, prefix)
		if !ok {
			t.Fatalf("%q does not start with %q", op, prefix)
		}
		rest, ok = strings.CutSuffix(rest, suffix)
		if !ok {
			t.Fatalf("%q does not end with %q", op, suffix)
		}
		at, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || at < before+rel || at > after+rel {
			t.Fatalf("%q: absolute time %d not in [%d, %d]", op, at, before+rel, after+rel)
		}
	}
	checkAbs(got[1], "4:PEXPIREAT k ", 100000, "")
	checkAbs(got[2], "4:PEXPIREAT k ", 200000, " GT")
	got[1], got[2] = want[1], want[2]
	ktEqual(t, "command log", got, want)
}

func TestExpireLazyFreeUnlink(t *testing.T) {
	ts := startServer(t)
	logged := ktLog(t, ts)
	r := ts.raw(t)
	expectRaw(t, r, "+OK\r\n", "CONFIG", "SET", "lazyfree-lazy-expire", "yes")
	r.do("SET", "k", "v")
	r.do("EXPIRE", "k", "0")
	ktEqual(t, "command log", logged(), []string{"0:SET k v", "0:UNLINK k"})
}

func TestExpireLazyOnAccess(t *testing.T) {
	ts := startServer(t)
	logged := ktLog(t, ts)
	r := ts.raw(t)
	r.do("SET", "k", "v", "PX", "20")
	time.Sleep(40 * time.Millisecond)
	expectRaw(t, r, "$-1\r\n", "GET", "k")
	got := logged()
	if len(got) != 2 || !strings.HasPrefix(got[0], "0:SET k v PXAT ") || got[1] != "0:DEL k" {
		t.Fatalf("command log %q", got)
	}
}

// TestActiveExpiry checks that keys with a TTL are reclaimed by the cron
// with no client touching them, each propagated as DEL, while keys without
// a TTL (or with a far one) stay.
func TestActiveExpiry(t *testing.T) {
	ts := startServer(t)
	logged := ktLog(t, ts)
	rdb := ts.client(t)
	const n = 300
	pipe := rdb.Pipeline()
	for i := 0; i < n; i++ {
		pipe.Set(ctx, "tmp:"+strconv.Itoa(i), "v", 50*time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		pipe.Set(ctx, "keep:"+strconv.Itoa(i), "v", 0)
		pipe.Set(ctx, "later:"+strconv.Itoa(i), "v", time.Hour)
	}
	pipe.Select(ctx, 7)
	pipe.Set(ctx, "db7", "v", 50*time.Millisecond)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	sizes := func() (db0, db7 int) {
		ts.Exec(func(ks *keyspace.Keyspace) { db0, db7 = ks.DB(0).Len(), ks.DB(7).Len() })
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		db0, db7 := sizes()
		if db0 == 20 && db7 == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys not reclaimed: db0 has %d keys (want 20), db7 %d", db0, db7)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dels := map[string]bool{}
	for _, op := range logged() {
		if strings.HasPrefix(op, "0:DEL ") || strings.HasPrefix(op, "7:DEL ") {
			if dels[op] {
				t.Fatalf("%q logged twice", op)
			}
			dels[op] = true
		}
	}
	if len(dels) != n+1 || !dels["7:DEL db7"] {
		t.Fatalf("%d DELs logged, want %d (one per expired key)", len(dels), n+1)
	}
	for i := 0; i < n; i++ {
		if !dels["0:DEL tmp:"+strconv.Itoa(i)] {
			t.Fatalf("no DEL for tmp:%d", i)
		}
	}
	var expired int64
	ts.Exec(func(ks *keyspace.Keyspace) { expired = ks.Stats.ExpiredKeys })
	if expired != n+1 {
		t.Fatalf("expired_keys = %d, want %d", expired, n+1)
	}
}

// TestActiveExpiryDoesNotStall expires many keys at once and checks that
// other clients keep being served while the cycle reclaims them: PINGs
// are answered at many points of the reclamation, not just before and
// after it (the cycle gives the lock up every millisecond). Wall-clock
// latency is only logged: on a loaded machine it measures the machine.
func TestActiveExpiryDoesNotStall(t *testing.T) {
	ts := startServer(t)
	rdb := ts.client(t)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 100000
	ts.Exec(func(ks *keyspace.Keyspace) {
		db := ks.DB(0)
		at := time.Now().UnixMilli() + 50
		for i := 0; i < n; i++ {
			k := []byte("k" + strconv.Itoa(i))
			db.SetString(k, []byte("v"), false)
			db.SetExpire(k, at)
		}
	})
	keysLeft := func() (left int) {
		ts.Exec(func(ks *keyspace.Keyspace) { left = ks.DB(0).Len() })
		return
	}
	var worst time.Duration
	midway := map[int]bool{} // key counts seen between PINGs mid-reclamation
	deadline := time.Now().Add(20 * time.Second)
	for {
		start := time.Now()
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		left := keysLeft()
		if left == 0 {
			break
		}
		if left < n {
			midway[left] = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d keys not reclaimed in 20s", left, n)
		}
	}
	t.Logf("worst PING %v, %d distinct intermediate states", worst, len(midway))
	if len(midway) < 5 {
		t.Fatalf("clients were served at only %d points of the reclamation: the cycle holds the lock too long", len(midway))
	}
}

// TestExpireWatchedKeyExpires checks that a watched key expiring (with no
// command touching it) aborts EXEC, as in Redis.
func TestExpireWatchedKeyExpires(t *testing.T) {
	ts := startServer(t)
	r := ts.raw(t)
	r.do("SET", "k", "v", "PX", "30")
	expectRaw(t, r, "+OK\r\n", "WATCH", "k")
	time.Sleep(300 * time.Millisecond) // long enough for the cron to reclaim it too
	r.do("MULTI")
	r.do("PING")
	expectRaw(t, r, "*-1\r\n", "EXEC")
}
