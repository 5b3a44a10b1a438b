# Shared by the side-by-side benchmark scripts (persist-benchmark.sh,
# repl-benchmark.sh), sourced after they set their settings: tool checks, a
# work directory cleaned up on exit (servers and background helpers
# stopped, RAW kept), building thredis and the Go helpers, starting and
# stopping servers on free 127.0.0.1 ports, redis-cli wrappers, background
# commands that a signal interrupts at once, and the results file.
#
# Input: BENCH_NAME (work directory prefix), BENCH_HELPERS (bench/<name>
# Go helpers to build into $work/bin), SERVER_ARGS (array: directives every
# server gets), REDIS_SERVER, THREDIS_BIN, THREDIS_ARGS, RAW.
# shellcheck shell=bash

for tool in "$REDIS_SERVER" redis-cli redis-benchmark go timeout; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/thredis-$BENCH_NAME.XXXXXX")
declare -A pid=() port=() dir=()
declare -A bg=() # background helpers still running: pid -> 1

stop_pid() { # pid
	if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		# a server may take a moment (a redis child to reap); do not hang
		for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}
cleanup() {
	local p name
	if [[ -n $RAW && -f ${results:-} ]]; then cp "$results" "$RAW" || true; fi
	for p in "${!bg[@]}"; do stop_pid "$p"; done
	for name in "${!pid[@]}"; do stop_pid "${pid[$name]}"; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

mkdir -p "$work/bin"
if [[ -z ${THREDIS_BIN:-} ]]; then
	THREDIS_BIN=$work/bin/thredis
	log "building $THREDIS_BIN"
	go build -o "$THREDIS_BIN" ./cmd/thredis
fi
for h in $BENCH_HELPERS; do
	log "building bench/$h"
	go build -o "$work/bin/$h" "./bench/$h"
done

# free_port prints a random 127.0.0.1 port nobody is listening on, below
# the ephemeral range (so no client connection is using it).
eph_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
((eph_low > 12000)) || eph_low=32768
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % (eph_low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# kind NAME: which server an instance NAME runs (thredis or redis); a script
# whose instance names are not just the server's redefines it.
kind() { echo "$1"; }

# start_server NAME [DIRECTIVES...]: starts thredis or redis (by NAME's
# kind), with SERVER_ARGS and then DIRECTIVES, in $work/NAME (kept if it exists: a dump.rdb there is loaded) on a
# fresh port, and waits until it answers PING (not -LOADING). A port taken
# between the check and the bind gets another try.
start_server() {
	local try
	for try in 1 2 3; do
		start_server_once "$@" && return
		log "$1: port taken, trying another"
	done
	die "$1 failed to start"
}
start_server_once() {
	local name=$1 p
	shift
	p=$(free_port)
	dir[$name]=$work/$name
	mkdir -p "${dir[$name]}"
	case $(kind "$name") in
	# shellcheck disable=SC2086 # THREDIS_ARGS is a list of arguments
	thredis) set -- "$THREDIS_BIN" --port "$p" --bind 127.0.0.1 --dir "${dir[$name]}" --save '' --appendonly no \
		"${SERVER_ARGS[@]}" --loglevel warning $THREDIS_ARGS "$@" ;;
	redis) set -- "$REDIS_SERVER" --port "$p" --bind 127.0.0.1 --dir "${dir[$name]}" --save '' --appendonly no \
		"${SERVER_ARGS[@]}" --loglevel warning "$@" ;;
	*) die "unknown server kind in $name" ;;
	esac
	"$@" >"$work/$name.log" 2>&1 &
	pid[$name]=$!
	port[$name]=$p
	for _ in $(seq 1200); do
		[[ $(redis-cli -p "$p" PING 2>/dev/null) == PONG ]] && return
		if ! kill -0 "${pid[$name]}" 2>/dev/null; then
			wait "${pid[$name]}" 2>/dev/null || true
			unset "pid[$name]"
			grep -qi 'address already in use' "$work/$name.log" && return 1
			cat "$work/$name.log" >&2
			die "$name failed to start"
		fi
		sleep 0.05
	done
	die "$name not answering PING on port $p"
}

stop_server() { # name: stops it and removes its directory
	stop_pid "${pid[$1]:-}"
	unset "pid[$1]"
	rm -rf "${dir[$1]:?}"
}

cli() { # name args...
	local name=$1
	shift
	timeout 600 redis-cli -p "${port[$name]}" "$@"
}

must() { # name args...: a command that must not fail
	local out
	out=$(cli "$@") || die "redis-cli $* failed"
	if [[ $out == ERR* || $out == *"SQL error"* || $out == MISCONF* ]]; then
		die "$* -> $out"
	fi
}

info_field() { cli "$1" INFO "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k { print $2 }'; }

# run_bg OUT WHAT CMD...: runs CMD with its output in OUT, waited for in the
# background so a signal is handled at once; dies naming WHAT if it fails.
run_bg() {
	local out=$1 what=$2 p
	shift 2
	"$@" >"$out" &
	p=$!
	bg[$p]=1
	wait "$p" || die "$what failed"
	unset "bg[$p]"
}

field() { # file key: a key=value field of a helper's output line
	tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

results=$work/results # lines: section case server metric value
: >"$results"
record() { echo "$*" >>"$results"; }

# stat_of SECTION CASE SERVER METRIC FN: median, max or min over the rounds.
stat_of() {
	awk -v s="$1" -v d="$2" -v n="$3" -v m="$4" -v fn="$5" '
		$1 == s && $2 == d && $3 == n && $4 == m && $5 != "" { v[++c] = $5 + 0 }
		END {
			if (!c) { print "-"; exit }
			for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			if (fn == "max") r = v[c]; else if (fn == "min") r = v[1]
			else r = (c % 2) ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
			print r
		}' "$results"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "-") print "-"; else printf f, v }'; }

# Report headers: what ran, on what.
describe_machine() { echo "$(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown CPU), $(awk '/^MemTotal:/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"; }
describe_thredis() { echo "$("$THREDIS_BIN" version) (source tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')), $(go version | awk '{print $3}')"; }
describe_redis() { echo "$("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/^v=//')"; }
