# thredis — see README.md. `make run` builds and serves on :6379; `make test`
# installs what the tests need (when CI=true or run as root on Debian) and
# runs them.
GO        ?= go
BIN       := bin/thredis
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
export CGO_ENABLED := 1

.PHONY: build run test lint bench clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/thredis

run: build
	./$(BIN)

test: lint
	$(GO) test -race -count=1 ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench: build
	bench/redis-benchmark.sh

clean:
	rm -rf bin
