# thredis — see README.md.
#   make run    build and serve on 127.0.0.1:6379 (in memory only: no --dir)
#   make test   install what the tests need (as root on Debian), lint, run
#               every test with the race detector, then brief fuzz runs
GO        ?= go
BIN       := bin/thredis
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# SQLite is linked with cgo; keep one build mode everywhere.
export CGO_ENABLED := 1

# Fuzz targets (package:target) and how long each runs under `make test`.
FUZZ_TARGETS := ./server:FuzzRequestStream ./server:FuzzRequestReader ./server:FuzzCommands ./canonint:FuzzParse \
                ./rdb:FuzzReader ./aof:FuzzLoad ./sdsquote:FuzzSplit
# A count, not a duration: go1.26's fuzz coordinator can fail a run with a
# bare "context deadline exceeded" when a -fuzztime duration ends while a
# worker is busy (golang/go#75804, fixed in go1.27); a count has no deadline.
FUZZTIME     ?= 20000x

# Programs `make deps` guarantees (tests and bench/ use them).
REDIS_TOOLS  ?= redis-server redis-cli redis-benchmark redis-check-rdb redis-check-aof

.PHONY: all build run test unit fuzz lint deps bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/thredis

run: build
	./$(BIN) --port 6379

test: deps lint unit fuzz

unit:
	$(GO) test -race -count=1 ./...

# Each fuzz target runs on its own (go test allows one -fuzz per package),
# starting from its seed corpus in <package>/testdata/fuzz.
fuzz:
	@set -e; for pt in $(FUZZ_TARGETS); do \
		p=$${pt%%:*}; t=$${pt#*:}; \
		echo "fuzz $$p $$t ($(FUZZTIME))"; \
		$(GO) test $$p -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME); \
	done

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$( (git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*') | \
		while read -r f; do [ -f "$$f" ] && echo "$$f"; done)); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# deps makes sure redis-server, redis-cli and redis-benchmark exist (tests
# compare against them and drive thredis with them). As root on Debian/Ubuntu
# it installs them with apt; otherwise it explains what is missing. A
# temporary policy-rc.d keeps dpkg from starting a redis service on :6379.
deps:
	@missing=; for t in $(REDIS_TOOLS); do \
		command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "missing:$$missing — install the redis-server and redis-tools packages (as root: make deps)" >&2; \
		exit 1; \
	fi; \
	echo "installing redis-server redis-tools (missing:$$missing)"; \
	guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	status=0; \
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null; } || status=$$?; \
	if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	exit $$status

bench: build deps
	bench/redis-benchmark.sh

clean:
	rm -rf bin
