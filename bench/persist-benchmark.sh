#!/usr/bin/env bash
# Persistence benchmark: thredis vs stock redis-server side by side, on the
# same data, interleaved, median of ROUNDS rounds. See bench/README.md,
# section "Persistence".
#
# Datasets (each loaded into one thredis and one redis-server, both
# --save '' --appendonly no, on random free 127.0.0.1 ports):
#   keys  KEYS (1M) string keys key:000000000000… with 100-byte values
#         (bench/persist load: pipelined SETs, identical incompressible values)
#   sql   a SQL_MB (200) MB SQLite database built in thredis with
#         CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB) and batches of
#         WITH RECURSIVE … INSERT INTO t(v) SELECT randomblob(1000) …;
#         thredis SAVEs it and redis-server starts on a copy of that dump.rdb,
#         so both hold the identical hash _sql:redis_db
#   big   BIG_KEYS (1M) string keys with BIG_SIZE (1000)-byte values (~1 GB)
# For each dataset, in this order (so the writer below cannot change the
# data the sizes are taken from):
#   1. BGSAVE, ROUNDS times per server: wall time from sending BGSAVE until
#      INFO persistence shows it finished, RDB size, peak extra memory
#      (bench/persist job: VmRSS every 10 ms, plus the forked child's).
#   2. AOF rewrite: CONFIG SET appendonly yes (its first rewrite is not
#      measured), then BGREWRITEAOF ROUNDS times: wall time, base size, peak
#      extra memory; then CONFIG SET appendonly no.
#   3. Pauses (keys and big; sql too, see below): a probe client sends
#      GET, one at a time, for PROBE_IDLE before a BGSAVE and during it; p99
#      and max round trip idle vs during the save, and the same for a
#      control probe of the other (idle) server, to tell the machine's
#      stalls from the saving server's own. Then the same while a
#      writer runs in the background: redis-benchmark -t set -P 16 -r <keys>
#      -d <size> (for sql: thredis only, SQL UPDATE of random rows, which
#      makes the first writer copy the frozen page hash). With the writer,
#      the idle phase is the writer-only baseline the save is compared to
#      (idle_own: its max leaving out the machine's stalls, as own_max).
# Throughput: fresh empty servers per appendonly setting (no, yes +
# everysec, yes + always), redis-benchmark -t set,incr -c 50 with -P 16
# (-n TP_N) and -P 1 (-n TP_N1), ROUNDS interleaved rounds.
#
# Environment: QUICK=1 (a short smoke run: small datasets, one round),
# THREDIS_BIN (default: built from this tree into the temporary directory),
# REDIS_SERVER, ROUNDS (3), KEYS (1000000), SQL_MB (200), BIG_KEYS (1000000),
# BIG_SIZE (1000), TP_N (1000000), TP_N1 (200000), FSYNCS ("no everysec
# always"), DATASETS ("keys sql big"; empty: throughput only), THROUGHPUT (1;
# 0 skips it), PROBE_IDLE (a Go duration, 2s), JOB_TIMEOUT (seconds, 900), BENCH_TIMEOUT (seconds per
# redis-benchmark run, 600), THREDIS_ARGS (extra arguments for thredis, e.g.
# "--io-threads 2"), RAW (a file to keep the raw measurements in: one line
# per round, "section dataset server metric value"). Progress goes to
# stderr, the report to stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	: "${ROUNDS:=1}" "${KEYS:=100000}" "${SQL_MB:=20}" "${BIG_KEYS:=50000}" "${TP_N:=100000}" "${TP_N1:=20000}" "${PROBE_IDLE:=1s}"
fi
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000000}
SQL_MB=${SQL_MB:-200}
BIG_KEYS=${BIG_KEYS:-1000000}
BIG_SIZE=${BIG_SIZE:-1000}
TP_N=${TP_N:-1000000}
TP_N1=${TP_N1:-200000}
FSYNCS=${FSYNCS:-"no everysec always"}
DATASETS=${DATASETS-"keys sql big"}
THROUGHPUT=${THROUGHPUT:-1}
PROBE_IDLE=${PROBE_IDLE:-2s}
JOB_TIMEOUT=${JOB_TIMEOUT:-900}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
THREDIS_ARGS=${THREDIS_ARGS:-}
RAW=${RAW:-}
SERVERS="thredis redis"

BENCH_NAME=persistbench BENCH_HELPERS=persist
SERVER_ARGS=()
# shellcheck source=bench/lib.sh
source bench/lib.sh

# bench NAME OUT ARGS...: redis-benchmark against NAME, bounded.
bench() {
	local name=$1 out=$2
	shift 2
	run_bg "$out" "redis-benchmark $* against $name" \
		timeout --kill-after=10 "$BENCH_TIMEOUT" redis-benchmark -p "${port[$name]}" "$@"
}

# job NAME OUT ARGS...: bench/persist job against NAME.
job() {
	local name=$1 out=$2
	shift 2
	run_bg "$out" "persist job $* against $name" \
		"$work/bin/persist" job -p "${port[$name]}" -pid "${pid[$name]}" -timeout "${JOB_TIMEOUT}s" "$@"
}

# load_dataset DS: starts both servers holding dataset DS.
load_dataset() {
	local ds=$1 name
	case $ds in
	keys | big)
		local n=$KEYS size=100
		[[ $ds == big ]] && n=$BIG_KEYS size=$BIG_SIZE
		for name in $SERVERS; do
			start_server "$name"
			log "$ds: loading $n keys x $size bytes into $name"
			timeout 1200 "$work/bin/persist" load -p "${port[$name]}" -n "$n" -d "$size" || die "load into $name failed"
			[[ $(cli "$name" DBSIZE) == "$n" ]] || die "$name: DBSIZE is not $n"
		done
		;;
	sql)
		start_server thredis
		local batch=10000 rows=$((SQL_MB * 1000)) done=0
		log "sql: building a $SQL_MB MB database ($rows rows of 1000 bytes) in thredis"
		must thredis SQL "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"
		while ((done < rows)); do
			local k=$((rows - done < batch ? rows - done : batch))
			must thredis SQL "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < $k) INSERT INTO t(v) SELECT randomblob(1000) FROM c"
			done=$((done + k))
		done
		must thredis SET probe x
		must thredis SAVE
		mkdir -p "$work/redis"
		cp "${dir[thredis]}/dump.rdb" "$work/redis/dump.rdb"
		log "sql: starting redis-server on a copy of thredis's dump.rdb"
		start_server redis
		local ht hr
		ht=$(cli thredis HLEN _sql:redis_db) hr=$(cli redis HLEN _sql:redis_db)
		[[ $ht == "$hr" && $ht -gt 0 ]] || die "sql: HLEN differs: thredis $ht, redis $hr"
		;;
	esac
	dsinfo[$ds]="$(cli thredis DBSIZE) keys"
	if [[ $ds == sql ]]; then
		dsinfo[$ds]+=", $(cli thredis HLEN _sql:redis_db) pages, sql_bytes $(info_field thredis sql sql_bytes) ($(info_field thredis sql sql_bytes_human))"
	fi
	for name in $SERVERS; do
		record mem "$ds" "$name" rss_kb "$(awk '/^VmRSS:/ {print $2}' "/proc/${pid[$name]}/status")"
	done
}

# order ROUND: the servers in the order of this round (alternating, so
# neither always goes first).
order() { if (($1 % 2)); then echo "$SERVERS"; else echo "redis thredis"; fi; }

run_dataset() {
	local ds=$1 round name out probe wargs
	load_dataset "$ds"
	probe=key:000000000001
	[[ $ds == sql ]] && probe=probe

	# 1. BGSAVE
	for round in $(seq "$ROUNDS"); do
		for name in $(order "$round"); do
			log "$ds: BGSAVE round $round/$ROUNDS, $name"
			out=$work/job.out
			job "$name" "$out" -cmd BGSAVE
			record bgsave "$ds" "$name" wall_ms "$(field "$out" wall_ms)"
			record bgsave "$ds" "$name" extra_rss_mb "$(($(field "$out" extra_rss_kb) / 1024))"
			record bgsave "$ds" "$name" extra_priv_mb "$(($(field "$out" extra_priv_kb) / 1024))"
			record bgsave "$ds" "$name" reply_ms "$(field "$out" reply_ms)"
			record bgsave "$ds" "$name" size_mb "$(awk -v s="$(stat -c %s "${dir[$name]}/dump.rdb")" 'BEGIN { printf "%.1f", s / 1048576 }')"
		done
	done

	# 2. AOF rewrite
	for name in $SERVERS; do
		must "$name" CONFIG SET appendonly yes
	done
	for round in $(seq "$ROUNDS"); do
		for name in $(order "$round"); do
			log "$ds: BGREWRITEAOF round $round/$ROUNDS, $name"
			out=$work/job.out
			job "$name" "$out" -cmd BGREWRITEAOF
			record aof "$ds" "$name" wall_ms "$(field "$out" wall_ms)"
			record aof "$ds" "$name" extra_rss_mb "$(($(field "$out" extra_rss_kb) / 1024))"
			record aof "$ds" "$name" extra_priv_mb "$(($(field "$out" extra_priv_kb) / 1024))"
			record aof "$ds" "$name" size_mb "$(awk -v s="$(field "$out" aof_base_size)" 'BEGIN { printf "%.1f", s / 1048576 }')"
		done
	done
	for name in $SERVERS; do
		# the job helper waits for a running rewrite before its next job
		must "$name" CONFIG SET appendonly no
	done

	# 3. pauses, without and with a background writer
	local writer
	for writer in none set; do
		for round in $(seq "$ROUNDS"); do
			for name in $(order "$round"); do
				wargs=()
				if [[ $writer == set ]]; then
					case $ds in
					keys) wargs=(-t set -P 16 -r "$KEYS" -d 100) ;;
					big) wargs=(-t set -P 16 -r "$BIG_KEYS" -d "$BIG_SIZE") ;;
					sql)
						[[ $name == thredis ]] || continue
						wargs=(-P 16 -r "$((SQL_MB * 1000))" SQL "UPDATE t SET v=randomblob(1000) WHERE id=?" __rand_int__) ;;
					esac
					log "$ds: pause probe round $round/$ROUNDS, $name, writer: redis-benchmark ${wargs[*]}"
					timeout --kill-after=10 "$((JOB_TIMEOUT + 60))" redis-benchmark -p "${port[$name]}" -n 2000000000 -q "${wargs[@]}" >/dev/null 2>&1 &
					local wpid=$!
					bg[$wpid]=1
					sleep 1
				else
					log "$ds: pause probe round $round/$ROUNDS, $name"
				fi
				out=$work/job.out
				local other=redis
				[[ $name == redis ]] && other=thredis
				job "$name" "$out" -cmd BGSAVE -probe "$probe" -idle "$PROBE_IDLE" -control "${port[$other]}" -control-key "$probe"
				if [[ $writer == set ]]; then
					kill -0 "$wpid" 2>/dev/null || die "the writer (redis-benchmark ${wargs[*]}) stopped early"
					stop_pid "$wpid"
					unset "bg[$wpid]"
				fi
				local sec=pause_$writer m
				for m in idle_p99_ms idle_max_ms idle_own_max_ms save_p99_ms save_max_ms save_worst_at_ms wall_ms save_own_max_ms ctl_save_max_ms; do
					record "$sec" "$ds" "$name" "$m" "$(field "$out" "$m")"
				done
				record "$sec" "$ds" "$name" idle_rps "$(field "$out" idle_rps)"
				record "$sec" "$ds" "$name" save_rps "$(field "$out" save_rps)"
				record "$sec" "$ds" "$name" extra_rss_mb "$(($(field "$out" extra_rss_kb) / 1024))"
				record "$sec" "$ds" "$name" extra_priv_mb "$(($(field "$out" extra_priv_kb) / 1024))"
			done
		done
	done
	for name in $SERVERS; do stop_server "$name"; done
}

# ---- report helpers ----


declare -A dsinfo=()

echo "thredis vs redis-server: persistence (median of $ROUNDS rounds, servers interleaved)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(describe_machine), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "thredis: $(describe_thredis)"
echo "redis:   $(describe_redis)"
echo "settings: QUICK=$QUICK ROUNDS=$ROUNDS KEYS=$KEYS SQL_MB=$SQL_MB BIG_KEYS=$BIG_KEYS BIG_SIZE=$BIG_SIZE TP_N=$TP_N TP_N1=$TP_N1 THREDIS_ARGS='$THREDIS_ARGS'"
echo

for ds in $DATASETS; do
	case $ds in keys | sql | big) ;; *) die "unknown dataset $ds" ;; esac
	run_dataset "$ds"
done

dsname() {
	case $1 in
	keys) echo "keys: $KEYS x 100 B" ;;
	sql) echo "sql: $SQL_MB MB SQLite" ;;
	big) echo "big: $BIG_KEYS x $BIG_SIZE B" ;;
	esac
}

if [[ -n $DATASETS ]]; then
	echo "datasets:"
	for ds in $DATASETS; do
		echo "  $(dsname "$ds"): ${dsinfo[$ds]:-?}; RSS thredis $(fmt "$(stat_of mem "$ds" thredis rss_kb med)" '%.0f') kB, redis $(fmt "$(stat_of mem "$ds" redis rss_kb med)" '%.0f') kB"
	done
	echo
	for sec in bgsave aof; do
		if [[ $sec == bgsave ]]; then
			echo "BGSAVE: wall = BGSAVE sent -> INFO rdb_bgsave_in_progress:0 (polled every 10 ms); size = dump.rdb;"
		else
			echo "BGREWRITEAOF (appendonly yes, aof-use-rdb-preamble yes): wall = sent -> aof_rewrite_in_progress:0; size = aof_base_size;"
		fi
		echo "extra = peak of (VmRSS + forked child's VmRSS) - VmRSS before; extra priv = counting only the child's private pages"
		printf '%-22s %10s %10s %7s %9s %9s %7s %10s %10s %12s %12s\n' dataset t_wall_ms r_wall_ms ratio t_size_mb r_size_mb ratio t_extra_mb r_extra_mb t_xpriv_mb r_xpriv_mb
		for ds in $DATASETS; do
			tw=$(stat_of "$sec" "$ds" thredis wall_ms med) rw=$(stat_of "$sec" "$ds" redis wall_ms med)
			ts=$(stat_of "$sec" "$ds" thredis size_mb med) rs=$(stat_of "$sec" "$ds" redis size_mb med)
			printf '%-22s %10s %10s %7s %9s %9s %7s %10s %10s %12s %12s\n' "$(dsname "$ds")" \
				"$(fmt "$tw" '%.0f')" "$(fmt "$rw" '%.0f')" "$(ratio "$tw" "$rw")" "$ts" "$rs" "$(ratio "$ts" "$rs")" \
				"$(stat_of "$sec" "$ds" thredis extra_rss_mb med)" "$(stat_of "$sec" "$ds" redis extra_rss_mb med)" \
				"$(stat_of "$sec" "$ds" thredis extra_priv_mb med)" "$(stat_of "$sec" "$ds" redis extra_priv_mb med)"
		done
		if [[ $sec == bgsave ]]; then
			echo "BGSAVE reply round trip (redis: includes fork), median ms: $(for ds in $DATASETS; do printf '%s thredis %s redis %s; ' "$ds" "$(stat_of bgsave "$ds" thredis reply_ms med)" "$(stat_of bgsave "$ds" redis reply_ms med)"; done)"
		fi
		echo
	done

	echo "pauses: probe client, GET one at a time, $PROBE_IDLE before a BGSAVE (idle) and during it (save); ms,"
	echo "median of $ROUNDS rounds (worst round in parentheses); target: save max <= 50 ms"
	printf '%-22s %-6s %-7s %8s %8s %8s %8s %16s %8s %8s %8s %8s %8s %7s %8s %8s\n' dataset writer server idle_p99 idle_max idle_own save_p99 "save_max (worst)" own_max ctl_max worst_at idle_rps save_rps wall_ms extra_mb xpriv_mb
	for ds in $DATASETS; do
		for writer in none set; do
			for name in $SERVERS; do
				sec=pause_$writer
				[[ $(stat_of "$sec" "$ds" "$name" save_max_ms med) == - ]] && continue
				w=$writer
				[[ $writer == set && $ds == sql ]] && w=update
				printf '%-22s %-6s %-7s %8s %8s %8s %8s %7s (%6s) %8s %8s %8s %8s %8s %7s %8s %8s\n' "$(dsname "$ds")" "$w" "$name" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" idle_p99_ms med)" '%.2f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" idle_max_ms med)" '%.1f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" idle_own_max_ms med)" '%.1f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" save_p99_ms med)" '%.2f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" save_max_ms med)" '%.1f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" save_max_ms max)" '%.1f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" save_own_max_ms med)" '%.1f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" ctl_save_max_ms med)" '%.1f')" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" save_worst_at_ms med)" '%.0f')" \
					"$(stat_of "$sec" "$ds" "$name" idle_rps med)" "$(stat_of "$sec" "$ds" "$name" save_rps med)" \
					"$(fmt "$(stat_of "$sec" "$ds" "$name" wall_ms med)" '%.0f')" \
					"$(stat_of "$sec" "$ds" "$name" extra_rss_mb med)" "$(stat_of "$sec" "$ds" "$name" extra_priv_mb med)"
			done
		done
	done
	echo "(writer set: redis-benchmark -t set -P 16 -c 50 -r <keys> -d <size>; update: thredis only,"
	echo " redis-benchmark -P 16 -c 50 SQL \"UPDATE t SET v=randomblob(1000) WHERE id=?\" __rand_int__;"
	echo " idle = the probe before the BGSAVE, with the writer already running: the writer-only baseline"
	echo " (for a fair max, make PROBE_IDLE at least as long as a save); idle_own = idle_max the same way as own_max;"
	echo " own_max = save_max leaving out round trips during which a control probe of the other, idle server"
	echo " was stalled at least half as long (the machine's stalls, not the saving server's); ctl_max = that"
	echo " control probe's max during the save; worst_at = when the slowest round trip began, ms after BGSAVE"
	echo " was sent; idle_rps / save_rps = the probe's GETs per second; extra_mb / xpriv_mb as above)"
	echo
fi

# ---- throughput ----
if [[ $THROUGHPUT == 1 ]]; then
	for round in $(seq "$ROUNDS"); do
		for fs in $FSYNCS; do
			for name in $SERVERS; do
				if [[ $fs == no ]]; then
					start_server "$name"
				else
					start_server "$name" --appendonly yes --appendfsync "$fs"
				fi
			done
			for depth in 16 1; do
				n=$TP_N
				((depth == 1)) && n=$TP_N1
				for name in $(order "$round"); do
					log "throughput round $round/$ROUNDS, appendonly $fs, -P $depth, $name"
					bench "$name" "$work/csv" -t set,incr -c 50 -P "$depth" -n "$n" --csv
					awk -F'","' -v s="$name" -v f="$fs" -v d="$depth" 'NR > 1 {
						gsub(/"/, "", $1); gsub(/"/, "", $2)
						print "tp", f "/" d "/" $1, s, "rps", $2
					}' "$work/csv" >>"$results"
				done
			done
			for name in $SERVERS; do stop_server "$name"; done
		done
	done
	echo "throughput: redis-benchmark -t set,incr -c 50 (-P 16 -n $TP_N, -P 1 -n $TP_N1), requests/s; appendonly no,"
	echo "or appendonly yes with appendfsync everysec / always; target: ratio >= 0.8 with AOF"
	printf '%-12s %4s %-6s %12s %12s %7s\n' appendfsync P test thredis_rps redis_rps ratio
	for fs in $FSYNCS; do
		for depth in 16 1; do
			for t in SET INCR; do
				tr_=$(stat_of tp "$fs/$depth/$t" thredis rps med) rr=$(stat_of tp "$fs/$depth/$t" redis rps med)
				printf '%-12s %4s %-6s %12s %12s %7s\n' "$([[ $fs == no ]] && echo "(aof off)" || echo "$fs")" "$depth" "$t" \
					"$(fmt "$tr_" '%.0f')" "$(fmt "$rr" '%.0f')" "$(ratio "$tr_" "$rr")"
			done
		done
	done
fi
