#!/usr/bin/env bash
# In-process comparison of the thredis SQLite VFS with SQLite's own
# in-memory VFS (memdb), through the same driver: the benchmarks of
# vfs/bench_test.go (issue 3, acceptance 6a). See bench/README.md.
#
# The test binary is built once and run ROUNDS times with -count 1, so
# every round runs each workload on every backend back to back (memdb
# right after the thredis stores) and drift in machine load hits them
# alike; the table shows the median ns/op and cpu-ns/op (process CPU time
# per op, the steadier figure on a shared machine) over the rounds and
# each backend's ratio to memdb (< 1 means faster than memdb).
#
# Environment overrides: ROUNDS (5), BENCHTIME (2s), BENCH (regexp, .),
# CPUPROFILE (a benchmark regexp: also profiles one extra run of it and
# prints the top functions).
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
BENCHTIME=${BENCHTIME:-2s}
BENCH=${BENCH:-.}
CPUPROFILE=${CPUPROFILE:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/thredis-vfsbench.XXXXXX")
run_pid=
cleanup() {
	if [[ -n $run_pid ]]; then kill "$run_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run OUT ARGS...: runs the test binary in the background and waits, so a
# signal is handled at once and the trap can stop it.
run() {
	local out=$1
	shift
	(cd vfs && "$work/vfs.test" "$@") >"$out" 2>&1 &
	run_pid=$!
	if ! wait "$run_pid"; then
		run_pid=
		echo "bench: vfs.test failed:" >&2
		cat "$out" >&2
		exit 1
	fi
	run_pid=
}

echo "bench: building the vfs test binary" >&2
CGO_ENABLED=1 go test -c -o "$work/vfs.test" ./vfs

echo "thredis VFS vs memdb: vfs/bench_test.go, -benchtime $BENCHTIME, $ROUNDS interleaved rounds (median ns/op)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown CPU)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (dirty tree)'), $(go version | awk '{print $3}')"
echo

# One line per measurement: workload backend round ns/op cpu-ns/op B/op allocs/op.
results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
	echo "round $round/$ROUNDS..." >&2
	run "$work/out" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem
	awk -v r="$round" '/^Benchmark[^ ]*\/[^ ]* / {
		split($1, p, "/"); w = p[1]; sub(/^Benchmark/, "", w)
		be = p[2]; sub(/-[0-9]+$/, "", be)
		ns = cpu = bytes = allocs = 0
		for (i = 3; i < NF; i++) {
			if ($(i + 1) == "ns/op") ns = $i
			if ($(i + 1) == "cpu-ns/op") cpu = $i
			if ($(i + 1) == "B/op") bytes = $i
			if ($(i + 1) == "allocs/op") allocs = $i
		}
		print w, be, r, ns, cpu, bytes, allocs
	}' "$work/out" >>"$results"
done

# Per (workload, backend), in first-seen order: medians over the rounds of
# ns/op and cpu-ns/op, and the medians of the per-round ratios to memdb
# (each round's figure divided by memdb's in the same round, which ran
# seconds later, so the pairs saw nearly the same machine load).
printf '%-17s %-17s %9s %15s %10s %7s %7s %11s %10s %11s\n' \
	workload backend ns/op "(min-max)" cpu-ns/op B/op allocs "ratio wall" "ratio cpu" "(min-max)"
awk '
	{ key = $1 " " $2; if (!(key in n)) order[++k] = key
	  c = ++n[key]; ns[key, c] = $4; cpu[key, c] = $5; by[key, c] = $6; al[key, c] = $7
	  if ($2 == "memdb") { bns[$1, $3] = $4; bcpu[$1, $3] = $5 }
	  rnd[key, c] = $3 }
	function median(a, key, c,   i, j, t, v) {
		for (i = 1; i <= c; i++) v[i] = a[key, i] + 0
		for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return (c % 2) ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
	}
	END {
		for (i = 1; i <= k; i++) {
			key = order[i]; c = n[key]; split(key, p, " ")
			mn = mx = ns[key, 1] + 0
			m = 0
			for (j = 1; j <= c; j++) {
				v = ns[key, j] + 0; if (v < mn) mn = v; if (v > mx) mx = v
				if ((p[1], rnd[key, j]) in bns && bns[p[1], rnd[key, j]] > 0 && bcpu[p[1], rnd[key, j]] > 0) {
					m++; rw[key, m] = ns[key, j] / bns[p[1], rnd[key, j]]; rc[key, m] = cpu[key, j] / bcpu[p[1], rnd[key, j]]
				}
			}
			rmn = rmx = rc[key, 1]
			for (j = 2; j <= m; j++) { if (rc[key, j] < rmn) rmn = rc[key, j]; if (rc[key, j] > rmx) rmx = rc[key, j] }
			printf "%-17s %-17s %9.0f %7.0f-%-7.0f %10.0f %7.0f %7.0f %11s %10s %11s\n", p[1], p[2], median(ns, key, c), mn, mx,
				median(cpu, key, c), median(by, key, c), median(al, key, c),
				m ? sprintf("%.2f", median(rw, key, m)) : "-", m ? sprintf("%.2f", median(rc, key, m)) : "-",
				m ? sprintf("%.2f-%.2f", rmn, rmx) : "-"
		}
	}' "$results"
echo "(ratio = median over the rounds of the round's figure / memdb's in the same round; target <= 1.2, floor <= 2)"

if [[ -n $CPUPROFILE ]]; then
	echo
	echo "CPU profile of one run of $CPUPROFILE (-benchtime $BENCHTIME):"
	run "$work/prof.out" -test.run '^$' -test.bench "$CPUPROFILE" -test.benchtime "$BENCHTIME" -test.count 1 \
		-test.cpuprofile "$work/cpu.pprof"
	grep '^Benchmark' "$work/prof.out" || true
	echo "top functions by flat time:"
	go tool pprof -top -nodecount 15 "$work/vfs.test" "$work/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p'
	echo "top functions by cumulative time:"
	go tool pprof -top -cum -nodecount 25 "$work/vfs.test" "$work/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p'
fi
