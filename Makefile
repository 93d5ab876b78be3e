# certbroker — the two commands a newcomer needs:
#   make run    start the service on its embedded defaults (./data, self-signed TLS, dev token)
#   make test   run every test
.PHONY: run test setup build lint fmt bench clean sdk-test ui-test

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
	bash scripts/sdk-python.sh
	bash scripts/ui-test.sh

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
	$(CARGO) bench --locked --bench keypool
	$(CARGO) bench --locked --bench acme

clean:
	$(CARGO) clean
