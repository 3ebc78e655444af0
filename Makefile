# The two front-door commands are `go run ./cmd/wild up` (see README) and
# `make test`. Everything the tests need is built or started from here.
GO ?= go
# wild is built without cgo, as it is shipped: a static binary starts about
# a millisecond sooner than one the dynamic loader must set up (README,
# Performance). Tests, vet and cluster-binaries use the same setting, so they
# share one build cache with the binary the tests run
# (internal/testutil.WildBinary).
WILDGO := CGO_ENABLED=0 $(GO)

.PHONY: test test-deps browser build cluster-binaries vet bench bench-add bench-perf bench-deploy bench-api bench-backup

# What the dev cluster's real node needs (internal/realnode tests it), the
# dev images' builder, and the database clients the tests check them with.
NODE_PACKAGES := containerd runc containernetworking-plugins iptables conntrack iproute2 \
	mmdebstrap postgresql-client mariadb-client

# Integration tests start their own control plane per package, which needs
# the binaries built first; the build is reused when up to date.
test: test-deps browser cluster-binaries vet
	$(WILDGO) test -count=1 -timeout 45m ./...

# As root on Debian, install the real node's packages that are missing, with
# no questions asked (a fresh CI machine). Elsewhere the real node's tests
# fail and say what to install.
test-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=; for p in $(NODE_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			echo "installing$$missing"; \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		fi; \
	fi

# The web UI's tests drive Debian's Chromium; as root (CI) it is installed
# when missing. Without it those tests fail, never skip.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# wild is built as the tests build it (WILDGO), so its packages compile once
# per run, not also with cgo (2 of CI's minutes on a cold cache); the
# control plane's build, which wild runs, keeps the environment's setting.
# Not into .build/bin: a wild there would hand over to the wild-central a
# `go run` builds beside it, of another build.
cluster-binaries:
	$(WILDGO) build -o .build/make/wild ./cmd/wild
	.build/make/wild dev cluster build

vet:
	$(WILDGO) vet ./...

# wild and its companion wild-central (backups and the daemon, which wild
# hands those commands to: it finds wild-central beside itself), stamped
# with the revision they are built from, which wild-central checks. The
# same flags as internal/shipbuild, which the tests and `go run` build with.
build:
	$(WILDGO) build -buildvcs=auto -o ./ ./cmd/wild ./cmd/wild-central

bench: bench-add bench-perf bench-api bench-backup

# Adding the whole catalog (one by one, at once, and the plain-write floor,
# side by side) and the compile, min/median/max over 5 runs, on one core.
# No cluster: internal/lifecycle/addbench starts none.
bench-add:
	@mkdir -p .build
	$(GO) test -run '^$$' -bench . -benchtime 20x -count 5 -cpu 1 ./internal/lifecycle/addbench/ > .build/bench-add.txt; \
		status=$$?; awk -f bench/benchsum.awk .build/bench-add.txt; exit $$status

# Issue 16's ratios, min/median/max over 5 rounds: no-op redeploy (one
# process, one process per app), app list at 11 and 100 apps, first deploy
# against the client-go floor. BASE_BIN=path/to/another/wild measures that
# build's per-process deploys beside this one's in every round.
bench-perf: cluster-binaries
	ROUNDS=$${ROUNDS:-11} bash bench/perf.sh

# The kubectl comparison (needs kubectl), not part of `make bench`.
bench-deploy: cluster-binaries
	ROUNDS=3 bash bench/deploy.sh

# Wild Central: status reads at 200/s through the API while a deploy runs,
# beside the same read in-process; one event fanned out to 100 SSE clients.
bench-api: cluster-binaries
	$(GO) test -run '^$$' -bench 'BenchmarkStatusUnderLoad|BenchmarkSSEFanOut' -benchtime 1x -count 3 ./internal/api/

# Issue 14: backup of a generated 1 GB database on the real node against a
# raw pg_dump > file through the same exec transport, min/median/max of
# the throughput ratio over ROUNDS, the backup process's peak RSS and a
# second, unchanged backup. BENCH_DB_MB sizes the table.
bench-backup: cluster-binaries
	ROUNDS=$${ROUNDS:-3} $(GO) test -run '^$$' -bench BenchmarkBackupVsRawDump -benchtime 1x -count 1 -timeout 90m ./internal/backup/roundtrip/
