# certbroker — the two commands a newcomer needs:
#   make run    start the service on its embedded defaults (./data, self-signed TLS, dev token)
#   make test   run every test
.PHONY: run test test-postgres setup build lint fmt bench clean sdk-test ui-test

CARGO ?= cargo

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

run: build
	./target/release/certbroker serve

# The test build carries the test-only fault hooks (the `fault-injection` feature).
FEATURES ?= --features fault-injection

test: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked $(FEATURES) -- -D warnings
	$(CARGO) build --all-targets --locked $(FEATURES)
	$(CARGO) test --all-targets --locked $(FEATURES) -- --test-threads=4
	$(MAKE) test-postgres
	bash scripts/sdk-python.sh
	bash scripts/ui-test.sh

# The integration suite (tests/api) again, on PostgreSQL: a throwaway cluster
# (scripts/pg.sh), each test on a database of its own. The ACME tests that drive Pebble run
# on SQLite only (one Pebble on a fixed port).
test-postgres: setup
	bash scripts/pg.sh start
	CERTBROKER_TEST_STORAGE_URL="$$(bash scripts/pg.sh url)" $(CARGO) test --locked $(FEATURES) \
		--test api -- --test-threads=4 --skip pebble --skip acme; \
		status=$$?; bash scripts/pg.sh stop; exit $$status

# The operator console in headless Chromium alone (tests/ui).
ui-test: setup
	$(CARGO) build --locked --bin certbroker
	bash scripts/ui-test.sh

# The Azure SDK acceptance suites alone: Rust (tests/sdk_rust) and Python (tests/sdk/python).
sdk-test: setup
	$(CARGO) test --locked $(FEATURES) --test sdk_rust
	bash scripts/sdk-python.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked $(FEATURES) -- -D warnings

fmt:
	$(CARGO) fmt

bench: setup
	$(CARGO) bench --locked --bench throughput
	$(CARGO) bench --locked --bench audit
	$(CARGO) bench --locked --bench acme

clean:
	$(CARGO) clean
