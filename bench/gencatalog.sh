#!/usr/bin/env bash
# Writes a synthetic Wild Directory of N small apps (syn001..synN), each a
# copy of the bundled hello app (Namespace, Deployment, Service, Ingress)
# under its own name and namespace, for benchmarks at scale:
#   bash bench/gencatalog.sh DIR N
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: gencatalog.sh DIR N}
N=${2:?usage: gencatalog.sh DIR N}
mkdir -p "$DIR"
for i in $(seq 1 "$N"); do
  name=$(printf 'syn%03d' "$i")
  mkdir -p "$DIR/$name"
  for f in directory/hello/*.yaml; do
    sed -e "s/hello/$name/g" "$f" > "$DIR/$name/$(basename "$f")"
  done
done
echo "$N apps in $DIR"
