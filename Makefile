# modelgate — make demo runs the whole pipeline on the bundled example,
# make test runs every test. Fuzzing and peer benchmarks have their own
# targets because they take minutes, not seconds.
GO       ?= go
BIN      ?= bin/modelgate
FUZZTIME ?= 30s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test vet fuzz bench bench-% clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/modelgate

demo: build
	$(BIN) demo

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -count=1 -timeout 15m ./...

# go test -fuzz takes one target per run; scripts/fuzz.sh finds them all.
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# make bench-<area> runs bench/<area>/run.sh (peers included where the issue names one).
bench-%: build
	bench/$*/run.sh

bench: build
	for d in bench/*/run.sh; do $$d || exit 1; done

clean:
	rm -rf bin modelgate-data
