#!/usr/bin/env bash
# Side-by-side throughput and memory comparison of thredis and stock
# redis-server under identical redis-benchmark loads. See bench/README.md.
#
# Throughput: for each round, each pipeline depth runs
#   redis-benchmark -n $N -c $CLIENTS -P <depth> -t $TESTS
# against thredis, then against redis-server (interleaved, so drift in
# machine load hits both alike); the table shows the median of the rounds.
# Memory: fresh servers each take
#   redis-benchmark -t set -r 1000000 -n 2000000 -d 32 -P 16
# and the resident set size (VmRSS) of each process is compared.
#
# Environment overrides: THREDIS_BIN (default bin/thredis, built if absent),
# REDIS_SERVER, ROUNDS (3), N (200000), CLIENTS (50), PIPELINES ("1 16"),
# TESTS (set,get,hset,incr,mset), MEMORY (1; 0 skips the memory test).
set -euo pipefail

cd "$(dirname "$0")/.."
THREDIS_BIN=${THREDIS_BIN:-bin/thredis}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ROUNDS=${ROUNDS:-3}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-set,get,hset,incr,mset}
MEMORY=${MEMORY:-1}

for tool in "$REDIS_SERVER" redis-cli redis-benchmark; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found (make deps)" >&2; exit 1; }
done
if [[ ! -x $THREDIS_BIN ]]; then
	echo "bench: building $THREDIS_BIN" >&2
	go build -o "$THREDIS_BIN" ./cmd/thredis
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/thredis-bench.XXXXXX")
declare -A pid=() port=()

stop_server() { # name
	local p=${pid[$1]:-}
	if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	fi
	pid[$1]=
}
bench_pid=
cleanup() {
	if [[ -n $bench_pid ]]; then kill "$bench_pid" 2>/dev/null || true; fi
	stop_server thredis
	stop_server redis
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

# start_server NAME: starts thredis or redis on a fresh port and waits for PING.
start_server() {
	local name=$1 p
	p=$(free_port)
	case $name in
	thredis)
		"$THREDIS_BIN" --port "$p" --bind 127.0.0.1 --dir "$work" --loglevel warning \
			>"$work/thredis.log" 2>&1 &
		;;
	redis)
		"$REDIS_SERVER" --port "$p" --bind 127.0.0.1 --dir "$work" --save '' --appendonly no \
			--loglevel warning >"$work/redis.log" 2>&1 &
		;;
	esac
	pid[$name]=$!
	port[$name]=$p
	for _ in $(seq 200); do
		if [[ $(redis-cli -p "$p" PING 2>/dev/null) == PONG ]]; then
			return
		fi
		if ! kill -0 "${pid[$name]}" 2>/dev/null; then
			echo "bench: $name failed to start:" >&2
			cat "$work/$name.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "bench: $name not answering PING on port $p" >&2
	exit 1
}

# bench OUT ARGS...: runs redis-benchmark in the background and waits for
# it, so a signal to this script is handled at once (bash defers traps
# while a foreground child runs) and the trap can stop the benchmark too.
bench() {
	local out=$1
	shift
	redis-benchmark "$@" >"$out" &
	bench_pid=$!
	wait "$bench_pid"
	bench_pid=
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "thredis vs redis-server: redis-benchmark -n $N -c $CLIENTS -t $TESTS, pipelines: $PIPELINES, rounds: $ROUNDS"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown CPU), $(awk '/^MemTotal:/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "thredis: $("$THREDIS_BIN" version), $(go version 2>/dev/null | awk '{print $3}')"
echo "redis:   $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/^v=//')"
echo

start_server thredis
start_server redis

# One line per measurement: server test pipeline rps.
results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
	for depth in $PIPELINES; do
		for name in thredis redis; do
			echo "round $round/$ROUNDS, -P $depth, $name..." >&2
			bench "$work/csv" -p "${port[$name]}" -n "$N" -c "$CLIENTS" -P "$depth" -t "$TESTS" --csv
			awk -F'","' -v s="$name" -v d="$depth" 'NR > 1 {
				gsub(/"/, "", $1); gsub(/"/, "", $2); gsub(/ /, "_", $1)
				print s, $1, d, $2
			}' "$work/csv" >>"$results"
		done
	done
done

# Median per (server, test, pipeline), then one row per (test, pipeline)
# in the order redis-benchmark ran them.
printf '%-16s %8s %14s %14s %8s\n' test pipeline thredis_rps redis_rps ratio
sort -k1,1 -k2,2 -k3,3n -k4,4g "$results" | awk '
	{ key = $1 " " $2 " " $3; v[key, ++n[key]] = $4 }
	END {
		for (key in n) {
			c = n[key]
			m = (c % 2) ? v[key, (c + 1) / 2] : (v[key, c / 2] + v[key, c / 2 + 1]) / 2
			print key, m
		}
	}' >"$work/medians"
awk 'FNR == NR { if (!seen[$2]++) order[++k] = $2; next }
	$1 == "thredis" { t[$2 " " $3] = $4 }
	$1 == "redis" { r[$2 " " $3] = $4 }
	END {
		split(pipelines, ps, " ")
		for (i = 1; i <= k; i++) for (j = 1; j in ps; j++) {
			key = order[i] " " ps[j]
			if (!(key in t) || !(key in r)) continue
			name = order[i]; gsub(/_/, " ", name)
			printf "%-16s %8s %14.0f %14.0f %8.2f\n", name, ps[j], t[key], r[key], (r[key] > 0 ? t[key] / r[key] : 0)
		}
	}' pipelines="$PIPELINES" "$results" "$work/medians"

stop_server thredis
stop_server redis

if [[ $MEMORY == 1 ]]; then
	echo
	echo "memory: redis-benchmark -t set -r 1000000 -n 2000000 -d 32 -P 16 on fresh servers"
	declare -A rss=() keys=()
	for name in thredis redis; do
		start_server "$name"
		bench /dev/null -p "${port[$name]}" -t set -r 1000000 -n 2000000 -d 32 -P 16 -q
		sleep 1 # let the server settle (GC, lazy frees) before sampling RSS
		rss[$name]=$(rss_kb "${pid[$name]}")
		keys[$name]=$(redis-cli -p "${port[$name]}" DBSIZE)
		stop_server "$name"
	done
	printf '%-10s %10s %12s\n' server keys rss_mib
	for name in thredis redis; do
		awk -v n="$name" -v k="${keys[$name]}" -v r="${rss[$name]}" 'BEGIN { printf "%-10s %10s %12.1f\n", n, k, r / 1024 }'
	done
	awk -v t="${rss[thredis]}" -v r="${rss[redis]}" 'BEGIN { printf "rss ratio thredis/redis: %.2f\n", t / r }'
fi
