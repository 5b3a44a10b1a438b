#!/usr/bin/env bash
# End-to-end SQL benchmark of thredis over RESP (issue 3, acceptance 6b, and
# the latency figure of acceptance 4). See bench/README.md.
#
# Throughput: one thredis (--save '' --appendonly no) on a random free
# 127.0.0.1 port, with t(a INTEGER PRIMARY KEY, b TEXT) holding 100k rows
# (one recursive-CTE INSERT … SELECT), an empty t2(id INTEGER PRIMARY KEY,
# b TEXT) and a string key. For each of ROUNDS rounds and each pipeline
# depth, back to back on the same server:
#   redis-benchmark -c $CLIENTS -n $N -P <depth> SQL "SELECT b FROM t WHERE a=?" 42
#   redis-benchmark -c $CLIENTS -n $N -P <depth> GET somekey
#   redis-benchmark -c $CLIENTS -n $N -P <depth> SQL "INSERT INTO t2(b) VALUES (?)" x
# The table shows median requests/s, the server's CPU time per request
# (utime+stime of the process over the run) and each ratio to GET.
#
# Latency: GET round trips of -c <clients> clients for LAT_SECS seconds
# (bench/latency, a small Go client: a fixed duration keeps the run
# bounded when the server is starved), on an idle server and while one
# more client runs a ~2-second read-only SQL query in a loop
# (redis-cli -r -1):
#   cached: reads t (fits in SQLite's page cache, so the query runs in C
#           without calling Go) joined with a recursive CTE;
#   scan:   full scans of t3 (400k rows, larger than SQLite's page cache),
#           so every page read is a call from SQLite into the VFS's Go code.
# Each server setting in LAT_IO_THREADS (io-threads = GOMAXPROCS) gets its
# own server; the runs are interleaved in each of LAT_ROUNDS rounds.
#
# Environment overrides: THREDIS_BIN (default bin/thredis, built if absent),
# ROUNDS (5), N (200000), CLIENTS (50), PIPELINES ("1 16"), LATENCY (1; 0
# skips the latency test), LAT_ROUNDS (3), LAT_SECS (3), LAT_CLIENTS
# ("1 50"), LAT_IO_THREADS ("1 2"), LONG_MS (2000: target duration of a
# long query), THREDIS_ARGS (extra arguments for every server). Progress
# goes to stderr, the report to stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
THREDIS_BIN=${THREDIS_BIN:-bin/thredis}
ROUNDS=${ROUNDS:-5}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
LATENCY=${LATENCY:-1}
LAT_ROUNDS=${LAT_ROUNDS:-3}
LAT_SECS=${LAT_SECS:-3}
LAT_CLIENTS=${LAT_CLIENTS:-"1 50"}
LAT_IO_THREADS=${LAT_IO_THREADS:-"1 2"}
LONG_MS=${LONG_MS:-2000}
THREDIS_ARGS=${THREDIS_ARGS:-}

for tool in redis-cli redis-benchmark; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (make deps)" >&2; exit 1; }
done
if [[ ! -x $THREDIS_BIN ]]; then
	echo "bench: building $THREDIS_BIN" >&2
	CGO_ENABLED=1 go build -o "$THREDIS_BIN" ./cmd/thredis
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/thredis-sqlbench.XXXXXX")
declare -A pid=() port=()
bench_pid= long_pid=

stop_pid() { # pid
	if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}
cleanup() {
	stop_pid "$bench_pid"
	stop_pid "$long_pid"
	for name in "${!pid[@]}"; do stop_pid "${pid[$name]}"; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a random 127.0.0.1 port nobody is listening on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "bench: no free port found" >&2
	return 1
}

# start_server NAME [ARGS...]: starts a thredis on a fresh port, waits for
# PING.
start_server() {
	local name=$1 p
	shift
	p=$(free_port)
	mkdir -p "$work/srv/$name"
	# shellcheck disable=SC2086 # THREDIS_ARGS is a list of arguments
	"$THREDIS_BIN" --port "$p" --bind 127.0.0.1 --dir "$work/srv/$name" --save '' --appendonly no \
		--loglevel warning $THREDIS_ARGS "$@" >"$work/srv/$name.log" 2>&1 &
	pid[$name]=$!
	port[$name]=$p
	for _ in $(seq 200); do
		[[ $(redis-cli -p "$p" PING 2>/dev/null) == PONG ]] && return
		if ! kill -0 "${pid[$name]}" 2>/dev/null; then
			echo "bench: thredis ($name) failed to start:" >&2
			cat "$work/srv/$name.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "bench: thredis ($name) not answering PING on port $p" >&2
	exit 1
}

stop_server() { # name
	stop_pid "${pid[$1]}"
	unset "pid[$1]"
}

cli() { # name args...
	local name=$1
	shift
	redis-cli -p "${port[$name]}" "$@"
}

# must NAME CMD...: runs a command through redis-cli, failing on an error.
must() {
	local out
	out=$(cli "$@")
	if [[ $out == ERR* || $out == *"SQL error"* ]]; then
		echo "bench: $* -> $out" >&2
		exit 1
	fi
}

# bench NAME OUT ARGS...: runs redis-benchmark in the background and waits
# for it, so a signal is handled at once and the trap can stop it too.
bench() {
	local name=$1 out=$2
	shift 2
	redis-benchmark -p "${port[$name]}" --csv "$@" >"$out" &
	bench_pid=$!
	wait "$bench_pid"
	bench_pid=
}

# cpu_ticks NAME prints the server's utime+stime in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/${pid[$1]}/stat"; }

# info_field NAME FIELD prints a field of INFO sql.
info_field() { cli "$1" INFO sql | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }

# load_t NAME: creates t (100k rows) and t2 (empty) and the string keys.
load_t() {
	must "$1" SQL "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)"
	must "$1" SQL "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000)
		INSERT INTO t(a, b) SELECT x, 'value ' || x FROM c"
	must "$1" SQL "CREATE TABLE t2(id INTEGER PRIMARY KEY, b TEXT)"
	must "$1" SET somekey somevalue
	[[ $(cli "$1" SQL "SELECT count(*) FROM t" | tail -1) == 100000 ]] || { echo "bench: table t not loaded" >&2; exit 1; }
}

median_by() { # KEYFIELDS FILE: prints key, the median of each value column, then each column's maximum, then the count
	sort -k1,"$1" "$2" | awk -v kf="$1" '
		{ key = $1; for (i = 2; i <= kf; i++) key = key " " $i
		  if (!(key in n)) order[++k] = key
		  c = ++n[key]; nv = NF - kf
		  for (i = kf + 1; i <= NF; i++) v[key, i - kf, c] = $i + 0 }
		function median(key, col, c,   i, j, t, a) {
			for (i = 1; i <= c; i++) a[i] = v[key, col, i]
			for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
		}
		function maxof(key, col, c,   i, m) {
			m = v[key, col, 1]
			for (i = 2; i <= c; i++) if (v[key, col, i] > m) m = v[key, col, i]
			return m
		}
		END {
			for (i = 1; i <= k; i++) {
				key = order[i]; line = key
				for (j = 1; j <= nv; j++) line = line " " median(key, j, n[key])
				for (j = 1; j <= nv; j++) line = line " " maxof(key, j, n[key])
				print line, n[key]
			}
		}'
}

echo "thredis SQL over RESP"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown CPU)"
echo "thredis: $("$THREDIS_BIN" version) ($THREDIS_BIN; source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)), $(go version 2>/dev/null | awk '{print $3}'), --save '' --appendonly no $THREDIS_ARGS"
echo

# ---- Throughput ----
start_server tp
echo "bench: loading 100k rows" >&2
load_t tp

SELECT_SQL="SELECT b FROM t WHERE a=?"
INSERT_SQL="INSERT INTO t2(b) VALUES (?)"

# One line per measurement: test pipeline rps cpu_us_per_request.
results=$work/results
: >"$results"
run_tp() { # test pipeline redis-benchmark-args...
	local test=$1 depth=$2 t0 t1
	shift 2
	t0=$(cpu_ticks tp)
	bench tp "$work/csv" -c "$CLIENTS" -n "$N" -P "$depth" "$@"
	t1=$(cpu_ticks tp)
	awk -F'","' -v s="$test" -v d="$depth" -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$N" \
		'NR == 2 { gsub(/"/, "", $2); print s, d, $2, ticks / hz / n * 1e6 }' "$work/csv" >>"$results"
}
for round in $(seq "$ROUNDS"); do
	for depth in $PIPELINES; do
		echo "round $round/$ROUNDS, -P $depth..." >&2
		run_tp select "$depth" SQL "$SELECT_SQL" 42
		run_tp get "$depth" GET somekey
		run_tp insert "$depth" SQL "$INSERT_SQL" x
	done
done

median_by 2 "$results" >"$work/tp"
echo "throughput: redis-benchmark -c $CLIENTS -n $N, median of $ROUNDS rounds; cpu = server CPU µs per request"
printf '%-40s %8s %12s %10s %14s\n' test pipeline rps cpu_us ratio_to_GET
for depth in $PIPELINES; do
	awk -v d="$depth" -v sel="SQL \"$SELECT_SQL\" 42" -v ins="SQL \"$INSERT_SQL\" x" '
		$2 == d { rps[$1] = $3; cpu[$1] = $4 }
		END {
			printf "%-40s %8s %12.0f %10.2f %14s\n", "GET somekey", d, rps["get"], cpu["get"], "1.00"
			printf "%-40s %8s %12.0f %10.2f %14.2f\n", sel, d, rps["select"], cpu["select"], rps["select"] / rps["get"]
			printf "%-40s %8s %12.0f %10.2f %14.2f\n", ins, d, rps["insert"], cpu["insert"], rps["insert"] / rps["get"]
		}' "$work/tp"
done
echo "(target: point-select rps >= 0.5 x GET rps at each pipeline depth)"
echo "t2 rows after the runs: $(cli tp SQL "SELECT count(*) FROM t2" | tail -1), database pages: $(cli tp HLEN _sql:redis_db)"
stop_server tp

[[ $LATENCY == 1 ]] || exit 0

# ---- Latency ----
echo "bench: building bench/latency" >&2
go build -o "$work/latency" ./bench/latency

CACHED_SQL="SELECT count(*), sum(length(b)) FROM t, (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?) SELECT x FROM c)"
SCAN_SQL="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?) SELECT sum((SELECT sum(length(b)) FROM t3 WHERE a > x - x)) FROM c"
declare -A long_sql=([cached]=$CACHED_SQL [scan]=$SCAN_SQL) long_k=() long_ms=()

for io in $LAT_IO_THREADS; do
	start_server "io$io" --io-threads "$io"
	echo "bench: loading t and t3 (io-threads $io)" >&2
	load_t "io$io"
	must "io$io" SET key:__rand_int__ xxx
	must "io$io" SQL "CREATE TABLE t3(a INTEGER PRIMARY KEY, b TEXT)"
	must "io$io" SQL "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 400000)
		INSERT INTO t3(a, b) SELECT x, printf('%040d', x) FROM c"
done
first=io${LAT_IO_THREADS%% *}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
for q in cached scan; do # scale k until one query takes LONG_MS ± 15%
	k=4 ms=0
	for i in 1 2 3 4 5; do
		s=$(now_ms)
		must "$first" SQL "${long_sql[$q]}" "$k"
		ms=$(($(now_ms) - s))
		((ms * 100 < LONG_MS * 85 || ms * 100 > LONG_MS * 115)) || break
		((i < 5)) || break # keep the k that was timed
		k=$((k * LONG_MS / (ms > 0 ? ms : 1)))
		((k > 0)) || k=1
	done
	long_k[$q]=$k long_ms[$q]=$ms
done

# stop_long NAME: stops the background query loop and interrupts its
# statement (CLIENT KILL), then waits until the server has closed its SQL
# session.
stop_long() {
	local id
	stop_pid "$long_pid"
	long_pid=
	for id in $(cli "$1" CLIENT LIST | awk '/ cmd=sql / { sub(/^id=/, "", $1); print $1 }'); do
		cli "$1" CLIENT KILL ID "$id" >/dev/null || true
	done
	for _ in $(seq 200); do
		[[ $(info_field "$1" sql_connections) == 0 ]] && return
		sleep 0.05
	done
	echo "bench: the server still has SQL connections open" >&2
}

echo
echo "latency: GET round trips (bench/latency -c <clients> -d ${LAT_SECS}s GET key:__rand_int__), on an idle server"
echo "and while another client runs a read-only SQL query in a loop (redis-cli -r -1; one query ≈ ${LONG_MS} ms):"
echo "  cached: t (100k rows) joined with a ${long_k[cached]}-row recursive CTE (${long_ms[cached]} ms alone); t stays in SQLite's page cache"
echo "  scan:   ${long_k[scan]} full scans of t3 (400k rows, ~4800 pages; ${long_ms[scan]} ms alone); each page read calls the VFS in Go"
echo "io-threads = GOMAXPROCS (default 1)"

lat=$work/latency.txt
: >"$lat"
for round in $(seq "$LAT_ROUNDS"); do
	for c in $LAT_CLIENTS; do
		for io in $LAT_IO_THREADS; do
			name=io$io
			echo "latency round $round/$LAT_ROUNDS, -c $c, io-threads $io..." >&2
			for bg in idle cached scan; do
				before=$(info_field "$name" sql_statements)
				if [[ $bg != idle ]]; then
					redis-cli -p "${port[$name]}" -r -1 -i 0 SQL "${long_sql[$bg]}" "${long_k[$bg]}" >/dev/null 2>&1 &
					long_pid=$!
					sleep 0.3 # the query is running
				fi
				"$work/latency" -p "${port[$name]}" -c "$c" -d "${LAT_SECS}s" GET key:__rand_int__ >"$work/lat.out" &
				bench_pid=$!
				wait "$bench_pid"
				bench_pid=
				queries=$(($(info_field "$name" sql_statements) - before))
				[[ $bg == idle ]] || stop_long "$name"
				awk -v c="$c" -v io="$io" -v b="$bg" -v q="$queries" '{
					for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
					print c, io, b, f["rps"], f["p50_ms"], f["p99_ms"], f["p999_ms"], f["max_ms"], q
				}' "$work/lat.out" >>"$lat"
			done
		done
	done
done
median_by 3 "$lat" >"$work/latmed"
echo "median of $LAT_ROUNDS rounds (worst round in parentheses); long queries = SQL statements run during the measurement"
printf '%-8s %-10s %-8s %9s %8s %18s %18s %18s %8s\n' clients io-threads query rps p50_ms p99_ms p999_ms max_ms queries
for c in $LAT_CLIENTS; do
	for io in $LAT_IO_THREADS; do
		for bg in idle cached scan; do
			# key(3) medians(rps p50 p99 p999 max q) maxima(rps p50 p99 p999 max q) count
			awk -v c="$c" -v io="$io" -v b="$bg" '$1 == c && $2 == io && $3 == b {
				printf "%-8s %-10s %-8s %9.0f %8.3f %8.3f (%7.3f) %8.3f (%7.3f) %8.3f (%7.3f) %8s\n",
					c, io, b, $4, $5, $6, $12, $7, $13, $8, $14, $9
			}' "$work/latmed"
		done
	done
done
