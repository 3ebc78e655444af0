# The two front-door commands are `go run ./cmd/wild up` (see README) and
# `make test`. Everything the tests need is built or started from here.
GO ?= go

.PHONY: test build cluster-binaries vet bench bench-add bench-deploy

# Integration tests start their own control plane per package, which needs
# the binaries built first; the build is reused when up to date.
test: cluster-binaries vet
	$(GO) test -count=1 -timeout 45m ./...

cluster-binaries:
	$(GO) run ./cmd/wild dev cluster build

vet:
	$(GO) vet ./...

build:
	$(GO) build -o wild ./cmd/wild

bench: bench-add bench-deploy

bench-add: cluster-binaries
	$(GO) test -run '^$$' -bench 'BenchmarkAdd|BenchmarkCompile|BenchmarkRender|BenchmarkProcessSpawn' -benchtime 20x -count 5 -cpu 1 ./internal/lifecycle/

bench-deploy: cluster-binaries
	ROUNDS=3 bash bench/deploy.sh
