#!/usr/bin/env bash
# Dev cluster cold start and memory (issue 13): a cold build of the bin
# dir with an empty Go build cache (downloaded modules are kept), warm `up`
# times, and the idle RSS and PSS of every process the cluster records.
# RSS counts shared binary text once per process; PSS (smaps_rollup)
# shares it out, which is fairer for one multi-call binary run six times.
#   COLD=1    also time the cold build (minutes; uses its own GOCACHE)
#   REAL=on   add the real node (root, containerd); default off
#   ROUNDS=3  warm down/up rounds
# Prints the load average next to each number: the machines are shared.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
REAL=${REAL:-off}
TMP=$(mktemp -d)
export WILD_CENTRAL_DATA=$TMP/data
trap '"$TMP/wild" down >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

CGO_ENABLED=0 go build -o "$TMP/wild" ./cmd/wild
if [ "${COLD:-}" = 1 ]; then
  start=$(date +%s)
  echo "cold build start, load $(load)"
  GOCACHE=$TMP/gocache WILD_DEVCLUSTER_BIN=$TMP/bin "$TMP/wild" dev cluster build >/dev/null
  echo "cold build: $(( $(date +%s) - start )) s wall, load at end $(load)"
fi
"$TMP/wild" dev cluster build >/dev/null

for i in $(seq "$ROUNDS"); do
  l=$(load)
  start=$(date +%s%N)
  "$TMP/wild" up --real-node "$REAL" >/dev/null 2>&1
  echo "up round $i: $(( ($(date +%s%N) - start) / 1000000 )) ms (load $l)"
  [ "$i" = "$ROUNDS" ] || "$TMP/wild" down >/dev/null
done

sleep 60
echo "idle, load $(load):"
total_rss=0 total_pss=0
for pid in $(grep -o '"pid": [0-9]*' "$WILD_CENTRAL_DATA/devcluster/state.json" | grep -o '[0-9]*$'); do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
  printf '  %-24s rss %6d KiB  pss %6d KiB\n' "$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f1 | xargs basename)" "$rss" "$pss"
  total_rss=$((total_rss + rss)) total_pss=$((total_pss + pss))
done
echo "total: rss $((total_rss / 1024)) MiB, pss $((total_pss / 1024)) MiB"
