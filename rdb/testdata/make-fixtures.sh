#!/bin/sh
# Regenerates the RDB fixtures in this directory with stock redis-server
# 7.0 (Debian's /usr/bin/redis-server; override with REDIS_SERVER and
# REDIS_CLI). It starts a private server on a free port of 127.0.0.1 in a
# temporary directory, fills it with populate.lua, and SAVEs three files:
#
#   redis-7.0.rdb             defaults (rdbcompression yes, rdbchecksum yes)
#   redis-7.0-nocompress.rdb  rdbcompression no, maxmemory-policy allkeys-lfu
#                             (so every key has a FREQ opcode)
#   redis-7.0-nochecksum.rdb  rdbchecksum no (zero trailer),
#                             maxmemory-policy allkeys-lru (IDLE opcodes)
#
# and redis-7.0.expected, the content of every key as described by dump.lua,
# which rdb/redis_test.go checks the decoded files against. It also saves
# redis-7.0-small.rdb (populate-small.lua: one key per encoding, a few
# hundred bytes, the fuzz seed) with redis-7.0-small.expected.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
server=${REDIS_SERVER:-/usr/bin/redis-server}
cli=${REDIS_CLI:-/usr/bin/redis-cli}
tmp=$(mktemp -d)
pid=
port=

cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

die() { echo "make-fixtures: $*" >&2; [ -f "$tmp/log" ] && tail -20 "$tmp/log" >&2; exit 1; }

# start [config args...]: starts the server on a free random port, loading
# $tmp/dump.rdb if present. Lua compares strings with strcoll, so the C
# locale keeps dump.lua's sorting bytewise.
start() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
		# Someone already answers there: try another port.
		if "$cli" -p "$port" PING >/dev/null 2>&1; then continue; fi
		LC_ALL=C "$server" --port "$port" --bind 127.0.0.1 --dir "$tmp" \
			--dbfilename dump.rdb --save '' --appendonly no --daemonize no \
			--logfile "$tmp/log" --enable-debug-command yes "$@" &
		pid=$!
		i=0
		while [ $i -lt 100 ]; do
			if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" || true; pid=; break; fi
			if [ "$("$cli" -p "$port" PING 2>/dev/null)" = PONG ]; then return 0; fi
			sleep 0.1
			i=$((i + 1))
		done
		if [ -n "$pid" ]; then die "redis-server did not answer on port $port"; fi
	done
	die "could not start redis-server"
}

stop() {
	"$cli" -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	wait "$pid" 2>/dev/null || true
	pid=
}

# cmd ARGS...: runs a command that must reply OK.
cmd() {
	out=$("$cli" -p "$port" "$@") || die "$*: $out"
	[ "$out" = OK ] || die "$*: $out"
}

# dump_expected FILE: describes every key of DBs 0..15 with dump.lua.
dump_expected() {
	: >"$here/$1"
	for db in $(seq 0 15); do
		"$cli" -p "$port" -n "$db" --raw EVAL "$(cat "$here/dump.lua")" 0 "$db" >>"$here/$1" ||
			die "dump of db $db failed"
	done
	sed -i '/^$/d' "$here/$1"
	grep -q ' ' "$here/$1" || die "empty dump in $1"
}

save_as() {
	cmd SAVE
	cp "$tmp/dump.rdb" "$here/$1"
}

"$server" --version
start
# Elements of 1000 bytes or more go to plain quicklist nodes (container 1).
cmd DEBUG QUICKLIST-PACKED-THRESHOLD 1000
cmd EVAL "$(cat "$here/populate.lua")" 0
save_as redis-7.0.rdb

dump_expected redis-7.0.expected

cmd CONFIG SET rdbcompression no
cmd CONFIG SET maxmemory-policy allkeys-lfu
save_as redis-7.0-nocompress.rdb

# The small file: same server, fresh data, small listpack limits.
cmd FLUSHALL
cmd CONFIG SET rdbcompression yes
cmd CONFIG SET maxmemory-policy noeviction
cmd CONFIG SET hash-max-listpack-entries 2
cmd CONFIG SET zset-max-listpack-entries 2
cmd CONFIG SET set-max-intset-entries 4
cmd EVAL "$(cat "$here/populate-small.lua")" 0
save_as redis-7.0-small.rdb
dump_expected redis-7.0-small.expected
stop

# rdbchecksum cannot change at run time: restart (loading the first file).
cp "$here/redis-7.0.rdb" "$tmp/dump.rdb"
start --rdbchecksum no --maxmemory-policy allkeys-lru
save_as redis-7.0-nochecksum.rdb
stop

ls -l "$here"/redis-7.0*
