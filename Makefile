# audguard developer targets. `make test` is what CI runs (.ci/run).
SHELL := /usr/bin/env bash
GOVULNCHECK_VERSION := v1.9.0
# The vulnerability database is built offline from this golang.org/x/vulndb
# version (scripts/vulndb.sh); bump it to scan against newer reports.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR ?= .cache/vulndb
STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 10m
# FUZZFLAGS is passed to each fuzzing run, e.g. FUZZFLAGS="-parallel 1".
# Minimizing every new interesting input for the default 60s would leave
# the fuzzer idle half of the time on these targets; 100 runs are enough.
FUZZFLAGS ?= -fuzzminimizetime 100x
# Fuzz targets as <package>:<target>, run one after the other by make fuzz.
FUZZ_TARGETS := \
	./middleware:FuzzAuthenticate \
	./middleware:FuzzVerifyToken \
	./middleware:FuzzVerifyClaims \
	./jwks:FuzzParse \
	./internal/canonuri:FuzzMatch \
	./internal/jose:FuzzForEachMember \
	./internal/jose:FuzzSplitDecode

.PHONY: test vet unit fmt-check tidy-check lint vuln fuzz bench demo

## test: gofmt check, go vet and go test -race in every module (nested ones included).
test: fmt-check vet unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	./scripts/each-module.sh vet ./...

unit:
	./scripts/each-module.sh test -race -count=1 -timeout 10m ./...

## tidy-check: fails when a go.mod/go.sum is not tidy.
tidy-check:
	./scripts/each-module.sh mod tidy -diff

## lint: staticcheck (pinned) over every module.
lint:
	./scripts/each-module.sh run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## vuln: govulncheck (pinned) over every module, against a database built
## offline from the pinned golang.org/x/vulndb (no access to vuln.go.dev
## needed). GOTOOLCHAIN=auto makes each module scanned with the toolchain
## its go.mod selects, so the standard library is judged at the version
## the repository builds with.
vuln:
	./scripts/vulndb.sh $(VULNDB_VERSION) $(abspath $(VULNDB_DIR))
	GOTOOLCHAIN=auto ./scripts/each-module.sh run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$(abspath $(VULNDB_DIR)) ./...

## fuzz: run each fuzz target for FUZZTIME (default 10m), one after the
## other (not part of make test, which runs only the seed corpora). A
## failing input is saved under the package's testdata/fuzz/<Target>/;
## commit it as a regression seed once the bug is fixed.
fuzz:
	FUZZFLAGS="$(FUZZFLAGS)" ./scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

## bench: peer and floor benchmarks (bench/), interleaved rounds, benchstat
## table and ratios to the floor. Not part of test. See bench/RESULTS.md.
bench:
	./scripts/bench.sh

## demo: the walkthrough from the README.
demo:
	go run ./cmd/audguard demo
