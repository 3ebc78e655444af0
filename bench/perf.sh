#!/usr/bin/env bash
# Performance benchmark (issue 16). Every round uses fresh dev clusters
# (kwok nodes, no real node) and a cold cache directory per cluster, and
# measures, in the same run:
#   first   wild app deploy of the 11 bundled apps, one process, --no-wait
#   noop    the same command again (nothing to change)
#   floor   bench/floor on its own fresh cluster: one create per object
#   proc    one `wild app deploy APP --no-wait` process per app: first,
#           then again (no-op); ratio of the sums, and the worst app
#   list11  `wild app list` with the 11 apps deployed, against
#   status  one `wild app status ghost`
#   list100 `wild app list` with 100 small synthetic apps deployed
#           (bench/gencatalog.sh), on a cluster set up once
# and prints min/median/max over ROUNDS of each ratio. Load on the machine
# is printed too: the numbers only mean something next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
TMP=$(mktemp -d)
trap 'for d in "$TMP"/data-*; do [ -d "$d/devcluster" ] && WILD_CENTRAL_DATA=$d "$TMP/wild" down >/dev/null 2>&1 || true; done; rm -rf "$TMP"' EXIT

go build -o "$TMP/wild" ./cmd/wild
go build -o "$TMP/floor" ./bench/floor
"$TMP/wild" dev cluster build >/dev/null

APPS="postgres mysql redis memcached hello ghost gitea listmonk vaultwarden immich nextcloud" # dependency order
W=$TMP/wild
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; ms "$t0" "$(now)"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
med3() { for _ in 1 2 3; do timed "$@"; done | median; }

fresh() { # $1 = name: a fresh cluster, instance and cache, made current
  export WILD_CENTRAL_DATA=$TMP/data-$1 WILD_CACHE_DIR=$TMP/data-$1/cache
  "$W" up --nodes 1 --real-node off >/dev/null 2>&1
}
addall() { for a in "$@"; do "$W" app add "$a" >/dev/null; done; }
down() { "$W" down >/dev/null 2>&1; }

echo "load before: $(uptime)" >&2
# 100 synthetic apps, deployed once; list is read-only, so every round reuses them.
bash bench/gencatalog.sh "$TMP/syn" 100 >/dev/null
fresh big
SYN=$(cd "$TMP/syn" && ls)
WILD_DIRECTORY=$TMP/syn addall $SYN
WILD_DIRECTORY=$TMP/syn "$W" app deploy $SYN --no-wait >/dev/null 2>&1
BIG=$WILD_CENTRAL_DATA

for r in $(seq 1 "$ROUNDS"); do
  fresh a$r; addall $APPS
  first=$(timed "$W" app deploy $APPS --no-wait)
  noop=$(timed "$W" app deploy $APPS --no-wait)
  list11=$(med3 "$W" app list)
  status=$(med3 "$W" app status ghost)
  down

  fresh b$r; addall $APPS
  pf=0; pn=0; worst=0
  declare -A pfirst=()
  for a in $APPS; do pfirst[$a]=$(timed "$W" app deploy "$a" --no-wait); pf=$((pf + pfirst[$a])); done
  for a in $APPS; do
    t=$(timed "$W" app deploy "$a" --no-wait); pn=$((pn + t))
    worst=$(awk -v w="$worst" -v n="$t" -v f="${pfirst[$a]}" 'BEGIN {r=n/f; print (r>w)?r:w}')
  done
  down

  fresh c$r; addall $APPS
  t0=$(now); "$TMP/floor" -instance "$WILD_CENTRAL_DATA/instances/dev" $APPS 2>/dev/null; floor=$(ms "$t0" "$(now)")
  down

  export WILD_CENTRAL_DATA=$BIG WILD_CACHE_DIR=$BIG/cache
  list100=$(WILD_DIRECTORY=$TMP/syn med3 "$W" app list)

  load=$(awk '{print $1}' /proc/loadavg)
  echo "round $r (load $load): first $first ms, no-op $noop, floor $floor; per process: first $pf, no-op $pn (worst app $worst); list11 $list11, status $status, list100 $list100" >&2
  awk -v f="$first" -v n="$noop" -v fl="$floor" -v pf="$pf" -v pn="$pn" -v w="$worst" -v l="$list11" -v s="$status" -v b="$list100" \
    'BEGIN {print n/f, pn/pf, w, l/s, b, f/fl}' >> "$TMP/ratios"
done

echo "apps: 11 bundled (+100 synthetic for list100), rounds: $ROUNDS; load after: $(awk '{print $1, $2, $3}' /proc/loadavg)"
stat() { # column, label, target
  cut -d' ' -f"$1" "$TMP/ratios" | sort -g | awk -v l="$2" -v t="$3" '{a[NR]=$1} END {
    m=a[int((NR+1)/2)]; printf "%-42s min %7.2f  median %7.2f  max %7.2f   target %s\n", l, a[1], m, a[NR], t }'
}
stat 1 "no-op / first (one process)" "<= 0.15"
stat 2 "no-op / first (one process per app, sum)" "<= 0.25"
stat 3 "no-op / first (one process per app, worst)" "(info)"
stat 4 "app list (11 apps) / app status" "< 3"
stat 5 "app list (100 apps), ms" "< 300"
stat 6 "first deploy / client-go floor" "<= 1.2"
