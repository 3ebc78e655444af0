# Summarises `go test -bench -count N` output: for every benchmark and
# every metric it reported, min / median / max over the N runs.
# Usage: go test -bench ... -count 5 ... | awk -f bench/benchsum.awk
/^ +[A-Za-z0-9_]+\.go:[0-9]+: / { print; next } # a benchmark's own warning (b.Logf)
/^Benchmark/ {
  print  # the raw line stays visible
  name = $1; sub(/-[0-9]+$/, "", name)
  for (i = 3; i + 1 <= NF; i += 2) {
    key = name SUBSEP $(i + 1)
    if (!(key in n)) order[++keys] = key
    v[key, ++n[key]] = $i
  }
}
function sortvals(key, m,   i, j, t) {
  for (i = 1; i <= m; i++) s[i] = v[key, i] + 0
  for (i = 2; i <= m; i++) for (j = i; j > 1 && s[j - 1] > s[j]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
}
END {
  print ""
  printf "%-28s %-12s %5s %12s %12s %12s\n", "benchmark", "metric", "runs", "min", "median", "max"
  for (k = 1; k <= keys; k++) {
    key = order[k]; split(key, parts, SUBSEP); m = n[key]
    sortvals(key, m)
    printf "%-28s %-12s %5d %12.4g %12.4g %12.4g\n", parts[1], parts[2], m, s[1], s[int((m + 1) / 2)], s[m]
  }
}
