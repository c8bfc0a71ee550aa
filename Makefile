# Latchkey developer targets. `make test` is the test command CI runs.
GO ?= go
PG_DSN ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: run test test-all lint bench load

## run: start the server on the embedded SQLite default (http://localhost:8080)
run:
	$(GO) run ./cmd/latchkey serve

## test: every test, on SQLite and (when LATCHKEY_TEST_POSTGRES_DSN is set) PostgreSQL
test:
	$(GO) test -count=1 -timeout 15m ./...

## test-all: the tests on SQLite and the local PostgreSQL
test-all:
	LATCHKEY_TEST_POSTGRES_DSN='$(PG_DSN)' $(GO) test -count=1 -timeout 15m ./...

## lint: gofmt, go vet and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

## bench: the Go benchmarks on SQLite and PostgreSQL
bench:
	LATCHKEY_TEST_POSTGRES_DSN='$(PG_DSN)' $(GO) test -run '^$$' -bench . -benchmem ./...

# The load target's server: a PostgreSQL database of its own (created when
# missing, dropped first with LOAD_FRESH=1), the clients of
# cmd/latchkey-load/latchkey-load.yaml, and a fixed master secret.
LOAD_DB ?= latchkey_load
LOAD_DSN ?= postgres://postgres@127.0.0.1:5432/$(LOAD_DB)?sslmode=disable
LOAD_SECRET ?= 6c6f61642d6f6e6c792d6d61737465722d7365637265742d6e6f742d7573652d
LOAD_ARGS ?= -scenario client_credentials,introspect,refresh,code,login -c 8,64,256 -duration 10s -n 0
# The issuer's host and the port: the passkey scenario needs LOAD_HOST=localhost
# (WebAuthn refuses an IP address as the relying party ID).
LOAD_HOST ?= 127.0.0.1
LOAD_PORT ?= 18080

## load: build, start `latchkey serve` on PostgreSQL (127.0.0.1:18080), run cmd/latchkey-load against it, stop it
load:
	@mkdir -p bin
	$(GO) build -o bin/latchkey ./cmd/latchkey
	$(GO) build -o bin/latchkey-load ./cmd/latchkey-load
	@if [ -n "$(LOAD_FRESH)" ]; then psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS $(LOAD_DB)'; fi
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$(LOAD_DB)'" | grep -q 1 || \
		psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE $(LOAD_DB)'
	@# The local PostgreSQL runs with autovacuum off: vacuum the load database's
	@# tables (dead token versions from earlier runs) as autovacuum would.
	@psql -h 127.0.0.1 -U postgres -d $(LOAD_DB) -qc 'VACUUM (ANALYZE)' 2>/dev/null || true
	@LATCHKEY_DATABASE_DSN='$(LOAD_DSN)' LATCHKEY_SECRET='$(LOAD_SECRET)' \
		LATCHKEY_ISSUER='http://$(LOAD_HOST):$(LOAD_PORT)' LATCHKEY_LISTEN='127.0.0.1:$(LOAD_PORT)' \
		./bin/latchkey serve --config cmd/latchkey-load/latchkey-load.yaml > bin/load-server.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 100); do curl -fs http://127.0.0.1:$(LOAD_PORT)/healthz >/dev/null && break; sleep 0.1; done; \
	uptime; ./bin/latchkey-load -target http://$(LOAD_HOST):$(LOAD_PORT) $(LOAD_ARGS); uptime
