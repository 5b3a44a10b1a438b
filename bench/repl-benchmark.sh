#!/usr/bin/env bash
# Replication benchmark: thredis → thredis replica vs stock redis-server →
# redis-server replica, side by side under the same commands, interleaved,
# median of ROUNDS rounds. See bench/README.md, section "Replication".
#
# Every server runs --save '' --appendonly no --repl-diskless-sync-delay 0
# on a random free 127.0.0.1 port, in its own throw-away --dir; a replica is
# always of the same kind as its master.
#
# 1. Write throughput with 0 vs 1 replica (unless THROUGHPUT=0): per round,
#    for each server (order flips each round), back to back "no replica"
#    and "one replica" (order flips each round): a fresh empty master (and,
#    for "one replica", a fresh empty replica sent REPLICAOF and waited for
#    until in sync), then redis-benchmark -t set -P 16 -c 50 -n TP_N
#    against the master. SET/s, and per server the median of the per-round
#    ratios with/without (each from two adjacent runs, so a change in the
#    machine's load between rounds cancels out).
# 2. Replication lag under that load: while redis-benchmark runs, bench/repl
#    lag samples the master's master_repl_offset and the replica's
#    slave_repl_offset (INFO replication, both at once) every 50 ms: p99 and
#    max of the difference in bytes, and the time from the benchmark's end
#    until the replica's offset equals the master's (catch-up). The "no
#    replica" runs sample the master alone (same sampling load). CPU time of
#    master, replica (/proc/<pid>/stat) and benchmark client over each run.
# 3. Full sync (DATASETS, default "keys sql"): both masters hold the dataset;
#      keys  KEYS (1M) string keys with 100-byte values (bench/persist load,
#            the persistence benchmark's loader: identical incompressible
#            values on both)
#      sql   a SQL_MB (200) MB SQLite database built in thredis (as in
#            bench/persist-benchmark.sh); thredis SAVEs it and redis-server
#            starts on a copy of that dump.rdb, so both hold the identical
#            hash _sql:redis_db
#    For each mode in MODES ("diskless disk": CONFIG SET repl-diskless-sync
#    yes / no on the master), ROUNDS times per server (order flips each
#    round): a fresh empty replica, then bench/repl sync: wall time from
#    REPLICAOF 127.0.0.1 <master port> until the replica's INFO shows
#    master_link_status:up, master_sync_in_progress:0 and slave_repl_offset
#    equal to the master's master_repl_offset; how long INFO persistence
#    showed loading:1; CPU time and peak extra RSS of master (with forked
#    children) and replica. The replica's DBSIZE (and for sql HLEN of the
#    hash) is checked against the master's; then the replica is stopped.
#
# Environment: QUICK=1 (a short smoke run: 100k keys, 20 MB SQL, TP_N
# 300000, one round), THREDIS_BIN (default: built from this tree into the
# temporary directory), REDIS_SERVER, ROUNDS (3), KEYS (1000000), SQL_MB
# (200), TP_N (5000000), MODES ("diskless disk"), DATASETS ("keys sql";
# empty: throughput only), THROUGHPUT (1; 0 skips it), SYNC_TIMEOUT
# (seconds, 900), BENCH_TIMEOUT (seconds per redis-benchmark run, 600),
# THREDIS_ARGS (extra arguments for every thredis, e.g. "--io-threads 2"),
# RAW (a file to keep the raw measurements in: one line per round,
# "section case server metric value"). Progress goes to stderr, the report
# (markdown) to stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	: "${ROUNDS:=1}" "${KEYS:=100000}" "${SQL_MB:=20}" "${TP_N:=300000}"
fi
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000000}
SQL_MB=${SQL_MB:-200}
TP_N=${TP_N:-5000000}
MODES=${MODES:-"diskless disk"}
DATASETS=${DATASETS-"keys sql"}
THROUGHPUT=${THROUGHPUT:-1}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-900}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
THREDIS_ARGS=${THREDIS_ARGS:-}
RAW=${RAW:-}
SERVERS="thredis redis"

BENCH_NAME=replbench BENCH_HELPERS="persist repl"
SERVER_ARGS=(--repl-diskless-sync-delay 0)
# shellcheck source=bench/lib.sh
source bench/lib.sh

# Instances: NAME is <server>-<role>, e.g. thredis-master, redis-replica.
kind() { echo "${1%%-*}"; }
master_of() { echo "$1-master"; }
replica_of() { echo "$1-replica"; }

# helper OUT ARGS...: bench/repl ARGS; its report line goes to OUT.
helper() {
	local out=$1
	shift
	run_bg "$out" "bench/repl $*" "$work/bin/repl" "$@"
}

# sync_replica MASTER REPLICA OUT: REPLICAOF and wait until in sync.
sync_replica() {
	helper "$3" sync -m "${port[$1]}" -r "${port[$2]}" -mpid "${pid[$1]}" -rpid "${pid[$2]}" -timeout "${SYNC_TIMEOUT}s"
}

# order ROUND: the servers in the order of this round (alternating, so
# neither always goes first).
order() { if (($1 % 2)); then echo "$SERVERS"; else echo "redis thredis"; fi; }

# ---- 1 and 2: throughput and lag ----

run_throughput() {
	local round reps s m r out csv nrep rps f
	local -A got=()
	for round in $(seq "$ROUNDS"); do
		reps="0 1"
		((round % 2)) || reps="1 0"
		for s in $(order "$round"); do
			# the two runs of a server are back to back, so the ratio of
			# the pair sees the same machine load
			for nrep in $reps; do
				m=$(master_of "$s") r=$(replica_of "$s")
				start_server "$m"
				out=$work/lag.out csv=$work/bench.csv
				if ((nrep == 1)); then
					start_server "$r"
					sync_replica "$m" "$r" "$work/sync.out"
					log "throughput round $round/$ROUNDS, $s, one replica"
					helper "$out" lag -m "${port[$m]}" -r "${port[$r]}" -mpid "${pid[$m]}" -rpid "${pid[$r]}" \
						-out "$csv" -timeout "$((BENCH_TIMEOUT + 180))s" -- \
						timeout --kill-after=10 "$BENCH_TIMEOUT" redis-benchmark -p "${port[$m]}" -t set -P 16 -c 50 -n "$TP_N" --csv
					[[ $(field "$out" catchup_ms) != -1 ]] || die "$s: the replica did not catch up"
				else
					log "throughput round $round/$ROUNDS, $s, no replica"
					helper "$out" lag -m "${port[$m]}" -mpid "${pid[$m]}" \
						-out "$csv" -timeout "$((BENCH_TIMEOUT + 180))s" -- \
						timeout --kill-after=10 "$BENCH_TIMEOUT" redis-benchmark -p "${port[$m]}" -t set -P 16 -c 50 -n "$TP_N" --csv
				fi
				rps=$(awk -F'","' 'NR > 1 && $1 == "\"SET" { gsub(/"/, "", $2); print $2 }' "$csv")
				[[ -n $rps ]] || die "$s: no SET result from redis-benchmark"
				got[$nrep]=$rps
				record tp "r$nrep" "$s" rps "$rps"
				for f in cmd_ms lag_p50 lag_p99 lag_max lag_end catchup_ms repl_bytes mcpu_ms rcpu_ms ccpu_ms; do
					record tp "r$nrep" "$s" "$f" "$(field "$out" "$f")"
				done
				# CPU per request, in µs: master, replica, benchmark client
				for f in mcpu rcpu ccpu; do
					record tp "r$nrep" "$s" "${f}_us_op" "$(awk -v c="$(field "$out" "${f}_ms")" -v n="$TP_N" 'BEGIN { printf "%.3f", c * 1000 / n }')"
				done
				log "  $rps SET/s; $(cat "$out")"
				((nrep == 0)) || stop_server "$r"
				stop_server "$m"
			done
			record tp ratio "$s" ratio "$(ratio "${got[1]}" "${got[0]}")"
		done
	done
}

# ---- 3: full sync ----

declare -A dsinfo=()

# load_dataset DS: starts both masters holding dataset DS.
load_dataset() {
	local ds=$1 s m
	case $ds in
	keys)
		for s in $SERVERS; do
			m=$(master_of "$s")
			start_server "$m"
			log "keys: loading $KEYS keys x 100 bytes into $m"
			timeout 1200 "$work/bin/persist" load -p "${port[$m]}" -n "$KEYS" -d 100 || die "load into $m failed"
			[[ $(cli "$m" DBSIZE) == "$KEYS" ]] || die "$m: DBSIZE is not $KEYS"
		done
		;;
	sql)
		start_server thredis-master
		local batch=10000 rows=$((SQL_MB * 1000)) done=0
		log "sql: building a $SQL_MB MB database ($rows rows of 1000 bytes) in thredis"
		must thredis-master SQL "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"
		while ((done < rows)); do
			local k=$((rows - done < batch ? rows - done : batch))
			must thredis-master SQL "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < $k) INSERT INTO t(v) SELECT randomblob(1000) FROM c"
			done=$((done + k))
		done
		must thredis-master SET probe x
		must thredis-master SAVE
		mkdir -p "$work/redis-master"
		cp "${dir[thredis-master]}/dump.rdb" "$work/redis-master/dump.rdb"
		log "sql: starting redis-server on a copy of thredis's dump.rdb"
		start_server redis-master
		local ht hr
		ht=$(cli thredis-master HLEN _sql:redis_db) hr=$(cli redis-master HLEN _sql:redis_db)
		[[ $ht == "$hr" && $ht -gt 0 ]] || die "sql: HLEN differs: thredis $ht, redis $hr"
		;;
	*) die "unknown dataset $ds" ;;
	esac
	dsinfo[$ds]="$(cli thredis-master DBSIZE) keys"
	if [[ $ds == sql ]]; then
		dsinfo[$ds]+=", $(cli thredis-master HLEN _sql:redis_db) pages, sql_bytes $(info_field thredis-master sql sql_bytes)"
	fi
	for s in $SERVERS; do
		m=$(master_of "$s")
		dsinfo[$ds]+=", $s master RSS $(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/${pid[$m]}/status") MiB"
	done
}

run_sync() {
	local ds=$1 mode round s m r out f
	load_dataset "$ds"
	for mode in $MODES; do
		for s in $SERVERS; do
			m=$(master_of "$s")
			case $mode in
			diskless) must "$m" CONFIG SET repl-diskless-sync yes ;;
			disk) must "$m" CONFIG SET repl-diskless-sync no ;;
			*) die "unknown mode $mode" ;;
			esac
		done
		for round in $(seq "$ROUNDS"); do
			for s in $(order "$round"); do
				m=$(master_of "$s") r=$(replica_of "$s")
				start_server "$r"
				log "full sync $ds ($mode) round $round/$ROUNDS, $s"
				out=$work/sync.out
				sync_replica "$m" "$r" "$out"
				for f in wall_ms sync_seen_ms loading_start_ms loading_ms mcpu_ms rcpu_ms m_extra_rss_kb r_extra_rss_kb; do
					record sync "$ds/$mode" "$s" "$f" "$(field "$out" "$f")"
				done
				log "  $(cat "$out")"
				# before the checks below: a first SQL statement makes the
				# replica's SQLite load every page
				record sync "$ds/$mode" "$s" r_rss_mb "$(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/${pid[$r]}/status")"
				local dm dr
				dm=$(cli "$m" DBSIZE) dr=$(cli "$r" DBSIZE)
				[[ $dm == "$dr" ]] || die "$s $ds $mode: replica DBSIZE $dr, master $dm"
				if [[ $ds == sql ]]; then
					dm=$(cli "$m" HLEN _sql:redis_db) dr=$(cli "$r" HLEN _sql:redis_db)
					[[ $dm == "$dr" ]] || die "$s $ds $mode: replica HLEN $dr, master $dm"
					if [[ $s == thredis ]]; then
						dr=$(cli "$r" SQL "SELECT count(*) FROM t" | tr -d '\r' | tail -1)
						[[ $dr == $((SQL_MB * 1000)) ]] || die "thredis replica: SELECT count(*) gives $dr"
					fi
				fi
				stop_server "$r"
			done
		done
	done
	for s in $SERVERS; do stop_server "$(master_of "$s")"; done
}

# ---- report helpers ----

# range SECTION CASE SERVER METRIC FORMAT: "min–max" over the rounds
range() { echo "$(fmt "$(stat_of "$1" "$2" "$3" "$4" min)" "$5")–$(fmt "$(stat_of "$1" "$2" "$3" "$4" max)" "$5")"; }
# ---- run ----

echo "## thredis vs redis-server: replication (median of $ROUNDS rounds, servers interleaved)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(describe_machine), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- thredis: $(describe_thredis)"
echo "- redis: $(describe_redis)"
echo "- settings: QUICK=$QUICK ROUNDS=$ROUNDS KEYS=$KEYS SQL_MB=$SQL_MB TP_N=$TP_N MODES='$MODES' DATASETS='$DATASETS' THREDIS_ARGS='$THREDIS_ARGS'"
echo

t_start=$SECONDS
if [[ $THROUGHPUT == 1 ]]; then
	run_throughput
fi
for ds in $DATASETS; do
	run_sync "$ds"
done

if [[ $THROUGHPUT == 1 ]]; then
	echo "### Write throughput with 0 vs 1 replica, and replication lag"
	echo
	echo "\`redis-benchmark -t set -P 16 -c 50 -n $TP_N\` against the master; fresh servers per run; target: with/without ≥ 0.85"
	echo
	echo "| server | SET/s, no replica | SET/s, 1 replica | with/without | lag p99 B | lag max B (worst round) | lag at end B / catch-up ms | CPU µs/SET, no replica: master + client | 1 replica: master + replica + client |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	declare -A tpratio=()
	for s in $SERVERS; do
		r0=$(stat_of tp r0 "$s" rps med) r1=$(stat_of tp r1 "$s" rps med)
		tpratio[$s]=$(stat_of tp ratio "$s" ratio med)
		echo "| $s | $(fmt "$r0" '%.0f') | $(fmt "$r1" '%.0f') | **$(fmt "${tpratio[$s]}" '%.2f')** ($(range tp ratio "$s" ratio '%.2f')) |" \
			"$(fmt "$(stat_of tp r1 "$s" lag_p99 med)" '%.0f') | $(fmt "$(stat_of tp r1 "$s" lag_max med)" '%.0f') ($(fmt "$(stat_of tp r1 "$s" lag_max max)" '%.0f')) |" \
			"$(fmt "$(stat_of tp r1 "$s" lag_end med)" '%.0f') / $(fmt "$(stat_of tp r1 "$s" catchup_ms med)" '%.0f') |" \
			"$(fmt "$(stat_of tp r0 "$s" mcpu_us_op med)" '%.2f') + $(fmt "$(stat_of tp r0 "$s" ccpu_us_op med)" '%.2f') |" \
			"$(fmt "$(stat_of tp r1 "$s" mcpu_us_op med)" '%.2f') + $(fmt "$(stat_of tp r1 "$s" rcpu_us_op med)" '%.2f') + $(fmt "$(stat_of tp r1 "$s" ccpu_us_op med)" '%.2f') |"
	done
	echo
	echo "(SET/s: median over the rounds; with/without: median of the per-round ratios, each from two back-to-back runs,"
	echo "min–max in parentheses; lag: master_repl_offset − the replica's slave_repl_offset, sampled every 50 ms while the"
	echo "benchmark runs, p99 and max per run, median over the rounds; catch-up: from the benchmark's exit until the offsets"
	echo "are equal; CPU: user + system time per SET of each process over the run)"
	echo
	echo "thredis with/without $(fmt "${tpratio[thredis]}" '%.2f') vs redis $(fmt "${tpratio[redis]}" '%.2f') (thredis's ratio is $(ratio "${tpratio[thredis]}" "${tpratio[redis]}")× redis's);" \
		"thredis with a replica vs redis with a replica: $(ratio "$(stat_of tp r1 thredis rps med)" "$(stat_of tp r1 redis rps med)")×;" \
		"stream bytes per SET (master_repl_offset moved / requests): thredis $(awk -v b="$(stat_of tp r1 thredis repl_bytes med)" -v n="$TP_N" 'BEGIN { printf "%.1f", b / n }')," \
		"redis $(awk -v b="$(stat_of tp r1 redis repl_bytes med)" -v n="$TP_N" 'BEGIN { printf "%.1f", b / n }')"
	echo
fi

if [[ -n $DATASETS ]]; then
	echo "### Full sync"
	echo
	echo "REPLICAOF on a fresh empty replica → master_link_status:up, master_sync_in_progress:0, offsets equal; ms;"
	echo "target: thredis/redis ≤ 1.5"
	echo
	for ds in $DATASETS; do
		case $ds in
		keys) echo "- keys: $KEYS × 100 B — ${dsinfo[$ds]}" ;;
		sql) echo "- sql: $SQL_MB MB SQLite — ${dsinfo[$ds]}" ;;
		esac
	done
	echo
	echo "| dataset | mode | thredis ms | redis ms | ratio | loading ms (t / r) | master CPU ms (t / r) | replica CPU ms (t / r) | master extra RSS MiB (t / r) | replica RSS MiB (t / r) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for ds in $DATASETS; do
		for mode in $MODES; do
			c=$ds/$mode
			tw=$(stat_of sync "$c" thredis wall_ms med) rw=$(stat_of sync "$c" redis wall_ms med)
			echo "| $ds | $mode | $(fmt "$tw" '%.0f') ($(range sync "$c" thredis wall_ms '%.0f')) | $(fmt "$rw" '%.0f') ($(range sync "$c" redis wall_ms '%.0f')) | **$(ratio "$tw" "$rw")** |" \
				"$(fmt "$(stat_of sync "$c" thredis loading_ms med)" '%.0f') / $(fmt "$(stat_of sync "$c" redis loading_ms med)" '%.0f') |" \
				"$(fmt "$(stat_of sync "$c" thredis mcpu_ms med)" '%.0f') / $(fmt "$(stat_of sync "$c" redis mcpu_ms med)" '%.0f') |" \
				"$(fmt "$(stat_of sync "$c" thredis rcpu_ms med)" '%.0f') / $(fmt "$(stat_of sync "$c" redis rcpu_ms med)" '%.0f') |" \
				"$(fmt "$(stat_of sync "$c" thredis m_extra_rss_kb med)" '%.0f' | awk '{ if ($1 == "-") print; else printf "%.0f", $1 / 1024 }') / $(fmt "$(stat_of sync "$c" redis m_extra_rss_kb med)" '%.0f' | awk '{ if ($1 == "-") print; else printf "%.0f", $1 / 1024 }') |" \
				"$(stat_of sync "$c" thredis r_rss_mb med) / $(stat_of sync "$c" redis r_rss_mb med) |"
		done
	done
	echo
	echo "(medians, min–max over the rounds in parentheses; loading = how long the replica's INFO persistence showed"
	echo "loading:1, polled every 10 ms; CPU = user + system time of the process, redis's reaped fork children included;"
	echo "master extra RSS = peak of master + forked children's VmRSS over the value before REPLICAOF)"
	echo
fi
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
log "done in $((SECONDS - t_start)) s"
