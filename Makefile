# The two commands a newcomer needs: `go run ./cmd/gateway` (the demo) and
# `make test` (everything CI checks).
GO      ?= go
PKGS    ?= ./...
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test lint fmt-check vet staticcheck unit fuzz bench gobench build

# With CI set, .ci/run provides GATEWAY_TEST_POSTGRES. Without it, a
# throw-away PostgreSQL cluster is started when initdb is on the machine;
# otherwise the PostgreSQL tests skip, and this says how to get them.
test:
	@if [ -n "$$GATEWAY_TEST_POSTGRES" ] || [ -n "$$CI" ]; then \
	  $(MAKE) lint unit; \
	elif ./scripts/with-postgres.sh --check 2>/dev/null; then \
	  ./scripts/with-postgres.sh $(MAKE) lint unit; \
	else \
	  echo "note: PostgreSQL (initdb) not found, its tests will skip: apt-get install postgresql"; \
	  $(MAKE) lint unit; \
	fi

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(STATICCHECK) $(PKGS)

# -race everywhere; fuzz targets run their committed seeds as ordinary tests.
unit:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

# A short fuzzing run of every fuzz target (not part of `make test`).
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 10s $$pkg || exit 1; \
	  done; \
	done

# The standard load scenario (see scripts/bench.sh for knobs: N, CONCURRENCY,
# RATE, ENCRYPTION): one line of figures, one of the CPU each process used.
bench:
	./scripts/bench.sh

# Go benchmarks of the hot paths.
gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./unify/... ./sms/... ./rcs/... ./web/... ./cmd/gateway/

build:
	$(GO) build -o bin/ ./cmd/...
