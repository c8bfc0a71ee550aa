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
