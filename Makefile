# Microtask. `make run` starts the API on the embedded database; `make test`
# runs every test once. Both fetch what they need through the Go toolchain.
# `make ci` is what CI runs (.ci/run): the linters, every test with the race
# detector, the browser, Postman and generated-client checks.

GO      ?= go
BIN     := $(CURDIR)/bin

# Stripe's official API mock, for the tests of the Stripe gateway; installed
# into ./bin through the Go module proxy.
STRIPE_MOCK_VERSION := v0.203.0
STRIPE_MOCK         := $(BIN)/stripe-mock

.PHONY: run test test-race ci test-mongodb test-browser test-postman check-client chromium build vet lint lint-spec bench audit migrate clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## start the API (embedded database under DATA_DIR, default ./data; PORT or HTTP_ADDR from the environment)
	$(GO) run ./cmd/microtask serve

# The tests' databases are SQLite files under TMPDIR. On a tmpfs (Linux's
# /dev/shm, when it has 2 GiB free) their writes skip the disk's fsyncs,
# which on a busy disk took most of the tests' time; no test relies on an
# fsync (the crash test interrupts operations between their steps, the
# full-disk test mounts a tmpfs of its own). `make test TEST_TMPDIR=` keeps
# them on the disk.
ifeq ($(origin TEST_TMPDIR),undefined)
TEST_TMPDIR := $(shell d=/dev/shm; test -d $$d && test -w $$d && \
	test "$$(df -Pk $$d 2>/dev/null | awk 'NR==2 {print $$4}')" -ge 2097152 2>/dev/null && echo $$d)
endif
GOTEST = $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test

# The race detector instruments every package but modernc.org's: SQLite as
# C translated to Go, which keeps its data in memory it allocates itself,
# outside the Go heap the detector watches. Instrumented, and under the
# race detector's pointer checks, it made the crash test five times slower.
RACE := -race -gcflags='modernc.org/...=-race=false -d=checkptr=0'

test: vet $(STRIPE_MOCK) ## go vet and gofmt, then every test once, packages in parallel, without the race detector (about a minute on our 2-core machine)
	$(GOTEST) -count=1 -timeout 10m ./...

# The tests that run operations concurrently, and the operation engine's and
# crash tests, run a second time with the database behaving as MongoDB does
# (writes serialized per document, every read a command); every one of them
# checks the ledger audit at its end.
PER_DOCUMENT      := ./internal/operation/ ./internal/crashtest/
PER_DOCUMENT_RACE := -run 'Concurrent|Simultaneous|AtOnce|Races|ReservedOnce|ReservationLimit' ./internal/httpapi/ ./internal/submission/ ./internal/withdrawal/ ./internal/payment/ ./internal/qualification/ ./internal/invoice/ ./internal/contract/

test-race: $(STRIPE_MOCK) ## every test with the race detector, then the concurrent and crash ones again as on MongoDB
	$(GOTEST) $(RACE) -count=1 -timeout 15m ./...
	MICROTASK_TEST_DB=per-document $(GOTEST) $(RACE) -count=1 -timeout 15m $(PER_DOCUMENT)
	MICROTASK_TEST_DB=per-document $(GOTEST) $(RACE) -count=1 -timeout 15m $(PER_DOCUMENT_RACE)

# CI requires the tests that skip elsewhere: the browser test (Chromium,
# which `make chromium` installs) and the full-disk test (it mounts a tmpfs,
# so it needs root).
ci: export MICROTASK_BROWSER_TESTS := 1
ci: export MICROTASK_DISK_TESTS := 1
ci: ## what CI runs (.ci/run): chromium, lint, test-race (browser and full-disk tests required), check-client, test-postman (about four minutes on our 2-core machine)
	$(GO) version
	node --version
	$(MAKE) chromium lint test-race check-client test-postman

test-mongodb: $(STRIPE_MOCK) ## every test against the MongoDB at MONGODB_TEST_URI (e.g. a local replica set)
	@test -n "$$MONGODB_TEST_URI" || { echo "set MONGODB_TEST_URI, e.g. mongodb://localhost:27017/?replicaSet=rs0"; exit 2; }
	STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -race -count=1 -timeout 15m ./...

$(STRIPE_MOCK):
	GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

# The browser test of the API reference (/api/docs) drives Debian's
# Chromium; without one it skips, so `make test` runs anywhere. `make ci`
# installs it and sets MICROTASK_BROWSER_TESTS=1, which makes a missing
# browser a failure.
chromium: ## install Debian's chromium for the browser test (needs root and apt)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test-browser: chromium $(STRIPE_MOCK) ## the browser test of /api/docs, failing without a browser
	MICROTASK_BROWSER_TESTS=1 $(GOTEST) -count=1 -run Chromium ./internal/httpapi/

# The Postman collection a user converts from the spec, run with newman
# against a fresh server (scripts/newman.sh); about 20 seconds once npx has
# the tools.
OPENAPI_TO_POSTMAN := npx --yes openapi-to-postmanv2@6.3.3
NEWMAN             := npx --yes newman@6.2.2

test-postman: ## convert api/openapi.yaml to a Postman collection and run it with newman against a fresh server
	OPENAPI_TO_POSTMAN="$(OPENAPI_TO_POSTMAN)" NEWMAN="$(NEWMAN)" bash scripts/newman.sh

# The Go client a user generates from the spec with oapi-codegen, compiled
# in a temporary module (scripts/check-client.sh); nothing generated is
# kept. Through the Go module proxy; a few seconds once it has the modules.
OAPI_CODEGEN         := github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2
OAPI_CODEGEN_RUNTIME := github.com/oapi-codegen/runtime@v1.9.0

check-client: ## generate a Go client from api/openapi.yaml with oapi-codegen and compile it
	GO="$(GO)" OAPI_CODEGEN="$(OAPI_CODEGEN)" OAPI_CODEGEN_RUNTIME="$(OAPI_CODEGEN_RUNTIME)" bash scripts/check-client.sh

build: ## build bin/microtask
	$(GO) build -o $(BIN)/microtask ./cmd/microtask

# staticcheck's default checks, pinned: bugs, simplifications and style
# issues that go vet does not look for.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# The spec's linter, pinned; redocly.yaml says which rules and why. Needs
# Node.js (20.19 or later) and reaches npm the first time.
REDOCLY := npx --yes @redocly/cli@2.77.0

lint-spec: ## lint api/openapi.yaml with Redocly CLI (rules in redocly.yaml)
	$(REDOCLY) lint --format=stylish api/openapi.yaml

vet: ## go vet, a gofmt check, and no build output tracked by git (quick; make test runs it)
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@bins=$$(git ls-files -z 2>/dev/null | xargs -0 -r -n1 sh -c \
		'case $$(head -c 4 "$$0" | od -An -tx1 | tr -d " \n") in 7f454c46|cffaedfe|cefaedfe|feedface|feedfacf|4d5a*) echo "$$0";; esac'); \
	if [ -n "$$bins" ]; then echo "build outputs are tracked by git (remove them, ignore them by pattern):"; echo "$$bins"; exit 1; fi

lint: vet lint-spec ## vet, staticcheck and the spec's linter (make ci runs it)
	$(GO) run $(STATICCHECK) ./...

bench: build ## Go benchmarks, then the load generator's mixes (browse, mixed, writes, projects) on a fresh embedded database and at scale (5,000 and 20,000 documents per collection)
	$(GO) test -run '^$$' -bench '^BenchmarkPost$$' -benchmem -benchtime 300x ./internal/operation/
	$(GO) test -run '^$$' -bench '^BenchmarkLogin$$' -benchtime 30x ./internal/httpapi/
	$(GO) test -run '^$$' -bench '^BenchmarkAuthenticate$$' -benchtime 30x ./internal/user/
	$(GO) test -run '^$$' -bench '^BenchmarkSave$$' -benchmem -benchtime 200x ./internal/upload/
	$(GO) test -run '^$$' -bench '^BenchmarkUpdateByID$$' -benchtime 2000x ./internal/docdb/
	$(GO) test -run '^$$' -bench '^BenchmarkOpenEmbedded$$' -benchtime 2x ./internal/docdb/
	$(GO) build -o $(BIN)/loadgen ./cmd/loadgen
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -seed-docs 5000
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -seed-docs 20000
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -mix mixed -min-rps 3000 -write-p99 40ms -read-p99 40ms
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -mix mixed -min-rps 3000 -write-p99 40ms -read-p99 40ms -seed-docs 20000
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -mix writes -buyers 40 -tasks 10 -workers 600 -min-rps 1500 -write-p99 40ms
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -mix projects

migrate: ## apply migrations to the configured database and exit
	$(GO) run ./cmd/microtask migrate

audit: ## audit the coin ledger of the configured database
	$(GO) run ./cmd/microtask audit

clean: ## remove build output (not ./data)
	rm -rf $(BIN)
