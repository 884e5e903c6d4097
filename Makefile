# Microtask. `make run` starts the API on the embedded database; `make test`
# runs every test. Both fetch what they need through the Go toolchain.

GO      ?= go
BIN     := $(CURDIR)/bin

# Stripe's official API mock, for the tests of the Stripe gateway; installed
# into ./bin through the Go module proxy.
STRIPE_MOCK_VERSION := v0.203.0
STRIPE_MOCK         := $(BIN)/stripe-mock

.PHONY: run test test-short test-mongodb build lint bench audit migrate clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## start the API (embedded database under DATA_DIR, default ./data; PORT or HTTP_ADDR from the environment)
	$(GO) run ./cmd/microtask serve

# The tests that run operations concurrently, and the operation engine's and
# crash tests, run a second time with the database behaving as MongoDB does
# (writes serialized per document, every read a command); every one of them
# checks the ledger audit at its end.
PER_DOCUMENT      := ./internal/operation/ ./internal/crashtest/
PER_DOCUMENT_RACE := -run 'Concurrent|Simultaneous|AtOnce|Races|ReservedOnce|ReservationLimit' ./internal/httpapi/ ./internal/submission/ ./internal/withdrawal/ ./internal/payment/

test: lint $(STRIPE_MOCK) ## vet, format check, every test with the race detector, then the concurrent ones as on MongoDB
	STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -race -count=1 -timeout 15m ./...
	MICROTASK_TEST_DB=per-document STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -race -count=1 -timeout 15m $(PER_DOCUMENT)
	MICROTASK_TEST_DB=per-document STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -race -count=1 -timeout 15m $(PER_DOCUMENT_RACE)

test-mongodb: $(STRIPE_MOCK) ## every test against the MongoDB at MONGODB_TEST_URI (e.g. a local replica set)
	@test -n "$$MONGODB_TEST_URI" || { echo "set MONGODB_TEST_URI, e.g. mongodb://localhost:27017/?replicaSet=rs0"; exit 2; }
	STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -race -count=1 -timeout 15m ./...

test-short: $(STRIPE_MOCK) ## every test, without the race detector (faster while working)
	STRIPE_MOCK=$(STRIPE_MOCK) $(GO) test -count=1 ./...

$(STRIPE_MOCK):
	GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

build: ## build bin/microtask
	$(GO) build -o $(BIN)/microtask ./cmd/microtask

# staticcheck's default checks, pinned: bugs, simplifications and style
# issues that go vet does not look for.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## go vet, a gofmt check, staticcheck, and no build output tracked by git
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run $(STATICCHECK) ./...
	@bins=$$(git ls-files -z 2>/dev/null | xargs -0 -r -n1 sh -c \
		'case $$(head -c 4 "$$0" | od -An -tx1 | tr -d " \n") in 7f454c46|cffaedfe|cefaedfe|feedface|feedfacf|4d5a*) echo "$$0";; esac'); \
	if [ -n "$$bins" ]; then echo "build outputs are tracked by git (remove them, ignore them by pattern):"; echo "$$bins"; exit 1; fi

bench: build ## Go benchmarks, then the load generator on a fresh embedded database and at scale (5,000 and 20,000 documents per collection)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 300x ./internal/ledger/
	$(GO) test -run '^$$' -bench 'Login|Authenticate' -benchtime 30x ./internal/httpapi/ ./internal/user/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 200x ./internal/upload/
	$(GO) test -run '^$$' -bench UpdateByID -benchtime 2000x ./internal/storage/
	$(GO) test -run '^$$' -bench LoadCopy -benchtime 2x ./internal/storage/
	$(GO) build -o $(BIN)/loadgen ./cmd/loadgen
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -seed-docs 5000
	$(BIN)/loadgen -server $(BIN)/microtask -duration 30s -concurrency 16 -seed-docs 20000

migrate: ## apply migrations to the configured database and exit
	$(GO) run ./cmd/microtask migrate

audit: ## audit the coin ledger of the configured database
	$(GO) run ./cmd/microtask audit

clean: ## remove build output (not ./data)
	rm -rf $(BIN)
