#!/usr/bin/env bash
# Performance benchmark (issue 16). Every round uses fresh dev clusters
# (kwok nodes, no real node) and a cold cache directory per cluster, and
# measures, in the same run:
#   first   wild app deploy of the 11 bundled apps, one process, --no-wait
#   noop    the same command again (nothing to change)
#   floor   bench/floor on its own fresh cluster: one create per object
#   proc    one `wild app deploy APP --no-wait` process per app: first,
#           then again (no-op) at once and after NOOP_SETTLE seconds;
#           ratios of the sums, and the worst app
#   list11  `wild app list` with the 11 apps deployed, against
#   status  one `wild app status ghost`
#   list100 `wild app list` with 100 small synthetic apps deployed
#           (bench/gencatalog.sh), on a cluster set up after the rounds
# BASE_BIN, when set, is another build of wild measured beside this one:
# every round also runs the per-process deploys with it, on a fresh
# cluster of its own, right after this build's or right before
# (alternately), and the summary compares the two round by round. This
# machine's speed drifts by 2x over minutes, so two whole runs one after
# the other compare the machine more than the builds.
# The first deploy's cluster and the floor's swap order every round, and
# every fresh cluster gets SETTLE seconds (3) before anything is timed.
# The per-process no-ops run twice: at once after the first deploys,
# when they meet the controllers still busy with the pods of the apps
# just deployed (as a user who redeploys at once would), and again after
# NOOP_SETTLE seconds (5), on a settled cluster (as a user who redeploys
# later would). Both ratios are printed.
# It prints min/median/max over ROUNDS of each ratio, in wall time and in
# CPU time (user+sys of the measured processes, which the machine's load
# disturbs far less). Load is printed too: wall numbers only mean
# something next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
TMP=$(mktemp -d)
trap 'for d in "$TMP"/data-*; do [ -d "$d/devcluster" ] && WILD_CENTRAL_DATA=$d "$TMP/wild" down >/dev/null 2>&1 || true; done; rm -rf "$TMP"' EXIT

# WILD_BIN measures another build of wild (e.g. the previous commit's) with
# the same script, for a before/after comparison. Both programs are built
# as make build builds wild: static, without cgo.
if [ -n "${WILD_BIN:-}" ]; then cp "$WILD_BIN" "$TMP/wild"; else CGO_ENABLED=0 go build -o "$TMP/wild" ./cmd/wild; fi
if [ -n "${BASE_BIN:-}" ]; then cp "$BASE_BIN" "$TMP/base"; fi
CGO_ENABLED=0 go build -o "$TMP/floor" ./bench/floor
go build -o "$TMP/timeit" ./bench/timeit
"$TMP/wild" dev cluster build >/dev/null

APPS="postgres mysql redis memcached hello ghost gitea listmonk vaultwarden immich nextcloud" # dependency order
W=$TMP/wild
# timed CMD prints "wall_ms cpu_ms" of CMD, to 0.01 ms (bench/timeit; GNU
# time's 10 ms steps were half a no-op process).
# A failed command stops the benchmark: a fast failure is no measurement.
timed() {
  if ! "$TMP/timeit" -o "$TMP/time" -- "$@" >"$TMP/cmd.log" 2>&1; then
    echo "failed: $*" >&2; tail -5 "$TMP/cmd.log" >&2; exit 1
  fi
  cat "$TMP/time"
}
median() { sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
med3() { for _ in 1 2 3; do timed "$@"; done | median; }
add2() { echo "$1 $2" | awk '{print $1+$3, $2+$4}'; } # "w c" + "w c"

fresh() { # $1 = name: a fresh cluster, instance and cache, made current
  export WILD_CENTRAL_DATA=$TMP/data-$1 WILD_CACHE_DIR=$TMP/data-$1/cache
  "$W" up --nodes 1 --real-node off >/dev/null 2>&1
  sleep "${SETTLE:-3}" # controllers finish starting, for every cluster alike
}
addall() { for a in "$@"; do "$W" app add "$a" >/dev/null; done; }
down() { "$W" down >/dev/null 2>&1; }

echo "load before: $(uptime)" >&2

one_process() { # first deploy, no-op, list and status, in one process each
  fresh a$r; addall $APPS
  first=$(timed "$W" app deploy $APPS --no-wait)
  noop=$(timed "$W" app deploy $APPS --no-wait)
  list11=$(med3 "$W" app list)
  status=$(med3 "$W" app status ghost)
  down
}
per_process() { # $1 = cluster name; one wild process per app: first, no-op at once, no-op settled
  fresh $1$r; addall $APPS
  pf="0 0"; pn="0 0"; ps="0 0"; worst=0
  declare -A pfirst=()
  for a in $APPS; do pfirst[$a]=$(timed "$W" app deploy "$a" --no-wait); pf=$(add2 "$pf" "${pfirst[$a]}"); done
  for a in $APPS; do
    t=$(timed "$W" app deploy "$a" --no-wait); pn=$(add2 "$pn" "$t")
    worst=$(awk -v w="$worst" -v n="${t%% *}" -v f="${pfirst[$a]%% *}" 'BEGIN {r=n/f; print (r>w)?r:w}')
  done
  sleep "${NOOP_SETTLE:-5}"
  for a in $APPS; do t=$(timed "$W" app deploy "$a" --no-wait); ps=$(add2 "$ps" "$t"); done
  down
}
base_process() { # per_process with BASE_BIN, into bpf, bpn, bps
  [ -n "${BASE_BIN:-}" ] || return 0
  local W=$TMP/base pf pn ps worst
  per_process base; bpf=$pf; bpn=$pn; bps=$ps
}
floor_run() {
  fresh c$r; addall $APPS
  floor=$(timed "$TMP/floor" -instance "$WILD_CENTRAL_DATA/instances/dev" $APPS)
  down
}

for r in $(seq 1 "$ROUNDS"); do
  # The first deploy and its floor swap places every round, so neither
  # always meets the machine in the same state.
  if (( r % 2 )); then one_process; per_process b; base_process; floor_run; else floor_run; one_process; base_process; per_process b; fi

  load=$(awk '{print $1}' /proc/loadavg)
  echo "round $r (load $load), wall/cpu ms: first $first, no-op $noop, floor $floor; per process: first $pf, no-op $pn (worst app $worst), settled no-op $ps; list11 $list11, status $status" >&2
  if [ -n "${BASE_BIN:-}" ]; then
    echo "round $r, base build per process, wall/cpu ms: first $bpf, no-op $bpn, settled no-op $bps" >&2
    echo "$pf $pn $bpf $bpn $ps $bps" | awk '{ print $7/$5, $3/$7, $1/$5, $4/$8, $8/$6, $11/$5, $9/$11 }' >> "$TMP/base"-ratios
  fi
  echo "$first $noop $floor $pf $pn $list11 $status $worst $ps" | awk '{
    fw=$1; fc=$2; nw=$3; nc=$4; flw=$5; flc=$6; pfw=$7; pfc=$8; pnw=$9; pnc=$10; lw=$11; lc=$12; sw=$13; sc=$14; w=$15; psw=$16; psc=$17
    print nw/fw, pnw/pfw, w, lw/sw, fw/flw, nc/fc, pnc/pfc, lc/sc, fc/flc, psw/pfw, psc/pfc }' >> "$TMP/ratios"
done

# 100 synthetic apps on a cluster of their own, set up after the rounds:
# running beside them, its controllers and simulated pods loaded the
# machine the rounds measure. list is read-only, so ROUNDS medians of 3.
bash bench/gencatalog.sh "$TMP/syn" 100 >/dev/null
fresh big
SYN=$(cd "$TMP/syn" && ls)
WILD_DIRECTORY=$TMP/syn addall $SYN
WILD_DIRECTORY=$TMP/syn "$W" app deploy $SYN --no-wait >/dev/null 2>&1
for r in $(seq 1 "$ROUNDS"); do WILD_DIRECTORY=$TMP/syn med3 "$W" app list >> "$TMP/list100"; done
echo "list100, wall/cpu ms: $(paste -sd, "$TMP/list100")" >&2
down

echo "apps: 11 bundled (+100 synthetic for list100), rounds: $ROUNDS; load after: $(awk '{print $1, $2, $3}' /proc/loadavg)"
stat() { # column, label, target[, file]
  cut -d' ' -f"$1" "${4:-$TMP/ratios}" | sort -g | awk -v l="$2" -v t="$3" '{a[NR]=$1} END {
    m=a[int((NR+1)/2)]; printf "%-42s min %7.2f  median %7.2f  max %7.2f   target %s\n", l, a[1], m, a[NR], t }'
}
echo "wall time:"
stat 1 "no-op / first (one process)" "<= 0.15"
stat 2 "no-op / first (one process per app, sum)" "<= 0.25"
stat 10 "  the same after ${NOOP_SETTLE:-5} s (settled cluster)" "<= 0.25"
stat 3 "no-op / first (one process per app, worst)" "(info)"
stat 4 "app list (11 apps) / app status" "< 3"
stat 1 "app list (100 apps), ms" "< 300" "$TMP/list100"
stat 5 "first deploy / client-go floor" "<= 1.2"
echo "CPU time (user+sys):"
stat 6 "no-op / first (one process)" "(info)"
stat 7 "no-op / first (one process per app, sum)" "(info)"
stat 11 "  the same after ${NOOP_SETTLE:-5} s (settled cluster)" "(info)"
stat 8 "app list (11 apps) / app status" "(info)"
stat 2 "app list (100 apps), ms" "(info)" "$TMP/list100"
stat 9 "first deploy / client-go floor" "(info)"
if [ -n "${BASE_BIN:-}" ]; then
  echo "beside the base build (BASE_BIN), one process per app, wall time:"
  stat 1 "base: no-op / first (sum)" "(info)" "$TMP/base-ratios"
  stat 6 "base: the same after ${NOOP_SETTLE:-5} s" "(info)" "$TMP/base-ratios"
  stat 7 "settled no-op: this / base" "(info)" "$TMP/base-ratios"
  stat 2 "no-op: this / base" "(info)" "$TMP/base-ratios"
  stat 3 "first: this / base" "(info)" "$TMP/base-ratios"
  echo "CPU time:"
  stat 4 "no-op: this / base" "(info)" "$TMP/base-ratios"
  stat 5 "base: no-op / first (sum)" "(info)" "$TMP/base-ratios"
fi
