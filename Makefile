# Headway: `make run` to try it, `make test` before you push.
.PHONY: run test test-sqlite test-postgres schemathesis test-crash lint fmt openapi bench deps build release clean

CARGO ?= cargo

run: deps ## Build and serve on SQLite (headway.db), seeding a demo clinic into an empty database
	$(CARGO) build --release -p headway-api --bin headway
	DATABASE_URL=$${DATABASE_URL:-sqlite://headway.db} ./target/release/headway demo

test: deps test-sqlite test-postgres schemathesis ## The whole suite, on SQLite and on PostgreSQL, then schemathesis

test-sqlite: ## Unit, property and black-box tests on SQLite
	$(CARGO) build -q -p headway-api --bin headway
	$(CARGO) test --workspace

test-postgres: ## The black-box suite and the persistence unit tests again, on a throwaway PostgreSQL 15
	$(CARGO) build -q -p headway-api --bin headway
	./scripts/with-postgres.sh $(CARGO) test -p headway-tests -p headway-persistence

schemathesis: deps ## The server, fuzzed against its own OpenAPI document (a venv in .venv-schemathesis/)
	./scripts/schemathesis.sh

test-crash: deps ## Durability under crashes: kill -9, PostgreSQL immediate stop, fsync before answer
	./scripts/crash/run.sh

lint: ## Formatting and clippy, as CI checks them
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The API alone, as `make run` builds it: persistence without `inspect`, so a
	# handler that reached around the one door (a connection, a query) fails here.
	$(CARGO) clippy -p headway-api --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

openapi: ## Regenerate openapi/openapi.json from the code
	$(CARGO) run -q -p headway-api --bin headway -- openapi > openapi/openapi.json

bench: ## Load benchmark on loopback (see BENCHMARKS.md)
	./scripts/install-deps.sh --bench
	./bench/run.sh

deps:
	@./scripts/install-deps.sh
	@./scripts/fhir-validator.sh

release:
	$(CARGO) build --release -p headway-api --bin headway

clean:
	$(CARGO) clean
