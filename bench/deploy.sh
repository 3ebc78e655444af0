#!/usr/bin/env bash
# Deploy benchmark (issue: deploy every bundled app with --no-wait to a
# fresh dev cluster, three ways in the same run):
#   (a) wild app deploy (one process, all apps in dependency order)
#   (b) the original shell approach: per app, kubectl namespace + secret +
#       dependency-secret copies + kubectl apply -k on the same compiled dirs
#   (c) the floor: bench/floor, one create request per object, no checks
# plus a no-op redeploy with wild. Each way gets its own fresh cluster.
# Reports medians over ROUNDS rounds and the ratios (a)/(c), (b)/(a),
# noop/(a). kubectl is used here for comparison only, never by wild.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
TMP=$(mktemp -d)
trap 'for d in "$TMP"/data-*; do [ -d "$d/devcluster" ] && WILD_CENTRAL_DATA=$d "$TMP/wild" down >/dev/null 2>&1 || true; done; rm -rf "$TMP"' EXIT

CGO_ENABLED=0 go build -o "$TMP/wild" ./cmd/wild
CGO_ENABLED=0 go build -o "$TMP/floor" ./bench/floor
"$TMP/wild" dev cluster build >/dev/null
command -v kubectl >/dev/null || { echo "kubectl is needed for way (b)" >&2; exit 1; }

# Dependency order: providers first.
APPS="postgres mysql redis memcached hello ghost gitea listmonk vaultwarden immich nextcloud"

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

setup() { # $1 = data dir: fresh cluster + instance + every app added
  export WILD_CENTRAL_DATA=$1
  "$TMP/wild" up --nodes 3 --real-node off >/dev/null 2>&1
  for a in $APPS; do "$TMP/wild" app add "$a" >/dev/null; done
}

kubectl_deploy() { # the old shell approach, on the compiled folders
  local inst=$WILD_CENTRAL_DATA/instances/dev k="kubectl --kubeconfig $WILD_CENTRAL_DATA/instances/dev/kubeconfig"
  for a in $APPS; do
    local ns; ns=$(cat "$TMP/prep/$a.ns")
    $k create namespace "$ns" --dry-run=client -o yaml | $k apply -f - >/dev/null
    $k create secret generic "$a-secrets" -n "$ns" --from-env-file="$TMP/prep/$a.env" --dry-run=client -o yaml | $k apply -f - >/dev/null
    while read -r dep depns; do
      [ -n "$dep" ] || continue
      $k get secret "$dep-secrets" -n "$depns" -o yaml | sed -e "s/namespace: $depns/namespace: $ns/" -e '/resourceVersion:/d' -e '/uid:/d' -e '/creationTimestamp:/d' | $k apply -f - >/dev/null
    done < "$TMP/prep/$a.deps"
    $k apply -k "$inst/apps/$a" >/dev/null
  done
}

prep_kubectl() { # untimed: secret env files, namespaces, dependency copies
  mkdir -p "$TMP/prep"
  for a in $APPS; do
    "$TMP/wild" config get "apps.$a.namespace" > "$TMP/prep/$a.ns"
    : > "$TMP/prep/$a.env"
    for p in $("$TMP/wild" secret list "apps.$a" -o json | python3 -c 'import json,sys; [print(e["path"]) for e in json.load(sys.stdin)]'); do
      echo "${p#apps.$a.}=$("$TMP/wild" secret get "$p")" >> "$TMP/prep/$a.env"
    done
    "$TMP/wild" app show "$a" -o json | python3 -c '
import json,sys,subprocess
d=json.load(sys.stdin)
for dep in sorted(set((d.get("installedAs") or {}).values())):
    src=open("'"$WILD_CENTRAL_DATA"'/instances/dev/apps/%s/deployment.yaml"%d["name"]).read()+open("'"$WILD_CENTRAL_DATA"'/instances/dev/apps/%s/kustomization.yaml"%d["name"]).read()
    import glob
    text="".join(open(f).read() for f in glob.glob("'"$WILD_CENTRAL_DATA"'/instances/dev/apps/%s/*.yaml"%d["name"]) if not f.endswith("manifest.yaml"))
    if dep+"-secrets" in text:
        ns=subprocess.check_output(["'"$TMP/wild"'","config","get","apps.%s.namespace"%dep]).decode().strip()
        print(dep, ns)
' > "$TMP/prep/$a.deps"
  done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for r in $(seq 1 "$ROUNDS"); do
  D="$TMP/data-a$r"; setup "$D"
  t0=$(now); "$TMP/wild" app deploy $APPS --no-wait >/dev/null 2>&1; t1=$(now)
  "$TMP/wild" app deploy $APPS --no-wait >/dev/null 2>&1; t2=$(now)
  echo "$(ms "$t0" "$t1")" >> "$TMP/a"; echo "$(ms "$t1" "$t2")" >> "$TMP/noop"
  "$TMP/wild" down >/dev/null

  D="$TMP/data-b$r"; setup "$D"; rm -rf "$TMP/prep"; prep_kubectl
  t0=$(now); kubectl_deploy; t1=$(now)
  echo "$(ms "$t0" "$t1")" >> "$TMP/b"
  "$TMP/wild" down >/dev/null

  D="$TMP/data-c$r"; setup "$D"
  t0=$(now); "$TMP/floor" -instance "$D/instances/dev" $APPS 2>/dev/null; t1=$(now)
  echo "$(ms "$t0" "$t1")" >> "$TMP/c"
  "$TMP/wild" down >/dev/null
  echo "round $r: wild $(tail -1 "$TMP/a") ms, no-op $(tail -1 "$TMP/noop") ms, kubectl $(tail -1 "$TMP/b") ms, floor $(tail -1 "$TMP/c") ms" >&2
done

A=$(median < "$TMP/a"); B=$(median < "$TMP/b"); C=$(median < "$TMP/c"); N=$(median < "$TMP/noop")
echo "apps: $(echo $APPS | wc -w), rounds: $ROUNDS (medians)"
echo "(a) wild app deploy --no-wait:       ${A} ms"
echo "(b) kubectl secret + apply -k:       ${B} ms"
echo "(c) client-go floor:                 ${C} ms"
echo "no-op redeploy with wild:            ${N} ms"
awk -v a="$A" -v b="$B" -v c="$C" -v n="$N" 'BEGIN {
  printf "(a)/(c) = %.2f   (target <= 1.5)\n", a/c
  printf "(b)/(a) = %.2f   (target >= 3)\n", b/a
  printf "no-op/(a) = %.2f (target <= 0.20)\n", n/a }'
