# certbroker — the two commands a newcomer needs:
#   make run    start the service on its embedded defaults (./data, self-signed TLS, dev token)
#   make test   run every test
.PHONY: run test setup build lint fmt bench bench-replicas clean sdk-test ui-test test-postgres sdk-postgres fuzz-ci fuzz soak

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
	rm -rf $(FIGURES)
	$(CARGO) test --all-targets --locked $(FEATURES) -- --test-threads=4
	$(MAKE) test-postgres
	bash scripts/fuzz.sh ci > $(FIGURES)-fuzz-ci.log 2>&1 & fuzz=$$!; \
	  bash scripts/sdk-python.sh; sdk=$$?; \
	  wait $$fuzz; fz=$$?; cat $(FIGURES)-fuzz-ci.log; [ $$sdk = 0 ] && [ $$fz = 0 ]
	bash scripts/sdk-js.sh
	bash scripts/sdk-az.sh
	bash scripts/ui-test.sh
	bash scripts/fault-figures.sh

# The fault and abuse suite's figures (scripts/fault-figures.sh sums them).
FIGURES = $${CARGO_TARGET_DIR:-target}/faults

# Fuzzing from Key Vault's spec alone, CI size (fixed seed; part of `make test`) and long.
fuzz-ci: setup
	$(CARGO) test --locked $(FEATURES) --test faults --no-run
	bash scripts/fuzz.sh ci

fuzz: setup
	$(CARGO) test --locked $(FEATURES) --test faults --no-run
	bash scripts/fuzz.sh long
	bash scripts/fault-figures.sh

# The long fault pass: 25 kills -9 on one data directory, more race rounds, a long fuzz run.
SOAK_KILLS ?= 25
soak: setup
	rm -rf $(FIGURES)
	CERTBROKER_FAULTS_KILLS=$(SOAK_KILLS) CERTBROKER_FAULTS_RACE_ROUNDS=10 \
	  CERTBROKER_FAULTS_SEED=$${CERTBROKER_FAULTS_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d " ")} \
	  $(CARGO) test --locked $(FEATURES) --test faults -- --test-threads=2 --nocapture
	bash scripts/fuzz.sh long
	bash scripts/fault-figures.sh

# The integration suite (tests/api, the Pebble tests too) and the Rust SDK suite
# (tests/sdk_rust) again, on PostgreSQL: a throwaway cluster (scripts/pg.sh), each server on
# a database of its own. Then the Python, JavaScript and az CLI suites on the same cluster.
test-postgres: setup
	bash scripts/pg.sh start
	CERTBROKER_TEST_STORAGE_URL="$$(bash scripts/pg.sh url)" $(CARGO) test --locked $(FEATURES) \
		--test api --test sdk_rust -- --test-threads=4; \
		status=$$?; [ $$status != 0 ] || $(MAKE) sdk-postgres; \
		status2=$$?; bash scripts/pg.sh stop; [ $$status = 0 ] && [ $$status2 = 0 ]

# The client suites (Python, JavaScript, az CLI) on PostgreSQL alone: each of their servers
# on a fresh database of the throwaway cluster (scripts/pg.sh start keeps a running one; stop
# is safe twice). The binary is the one the test build made (built only when missing).
sdk-postgres: setup
	bash scripts/pg.sh start
	export CERTBROKER_SDK_STORAGE_URL="$$(bash scripts/pg.sh url)"; bash scripts/sdk-python.sh \
		&& bash scripts/sdk-js.sh && bash scripts/sdk-az.sh; \
		status=$$?; bash scripts/pg.sh stop; exit $$status

# The operator console in headless Chromium alone (tests/ui).
ui-test: setup
	$(CARGO) build --locked --bin certbroker
	bash scripts/ui-test.sh

# The Azure SDK acceptance suites alone: Rust (tests/sdk_rust), Python (tests/sdk/python),
# JavaScript (tests/sdk/js) and the az CLI recipe (scripts/sdk-az.sh).
sdk-test: setup
	$(CARGO) test --locked $(FEATURES) --test sdk_rust
	bash scripts/sdk-python.sh
	bash scripts/sdk-js.sh
	bash scripts/sdk-az.sh

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
	$(CARGO) bench --locked --bench scale
	$(MAKE) bench-replicas

# PostgreSQL on 1 and 3 replicas (benches/replicas.rs), on a throwaway cluster with fsync on.
bench-replicas: setup
	PG_DURABLE=1 bash scripts/pg.sh start >/dev/null
	CERTBROKER_BENCH_STORAGE_URL="$$(bash scripts/pg.sh url)" $(CARGO) bench --locked \
		--bench replicas; status=$$?; bash scripts/pg.sh stop; exit $$status

clean:
	$(CARGO) clean
