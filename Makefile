# llmux: `make run` and `make test` work on a fresh Debian 12 machine (they apt-get what is missing).
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CONFIG ?= examples/quickstart.yaml

.PHONY: all deps build build-debug run test unit integration e2e bench bench-routing bench-governance pgo-profile fuzz format tidy clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

run: build
	./build/llmux serve --config $(CONFIG)

# Every test: unit tests and fuzz corpora under ASan+UBSan, then the provider mocks' own checks, then the
# real binaries against mock upstreams (integration), then the official OpenAI and Anthropic SDKs against
# the release binary (end-to-end).
test: build build-debug
	@ctest --preset debug -j $(JOBS)
	@python3 tests/integration/mocks/selftest.py
	@python3 tests/integration/mock_openai_selftest.py
	@python3 tests/integration/services_selftest.py
	@LLMUX_BIN=build-debug/llmux python3 tests/integration/run.py
	@LLMUX_BIN=build/llmux python3 tests/integration/run.py
	@LLMUX_BIN=build/llmux tests/e2e/run.sh

unit: build-debug
	@ctest --preset debug -j $(JOBS)

integration: build build-debug
	@python3 tests/integration/mocks/selftest.py
	@python3 tests/integration/mock_openai_selftest.py
	@python3 tests/integration/services_selftest.py
	@LLMUX_BIN=build-debug/llmux python3 tests/integration/run.py
	@LLMUX_BIN=build/llmux python3 tests/integration/run.py

e2e: build
	@LLMUX_BIN=build/llmux tests/e2e/run.sh

bench: build
	@bench/run.sh

# Issue 4's figures: the routing decision's CPU cost, and a group with a flaky and a dead deployment.
bench-routing: build
	@bench/routing.sh

# Issue 5's figures: a virtual key with limits and spend logging, SQLite default and Redis limits.
bench-governance: build
	@bench/governance.sh

# Remakes pgo/llmux.proftext.gz, the profile Release builds are optimized with (scripts/pgo.sh).
pgo-profile: deps
	@scripts/pgo.sh

# Long fuzzing runs (not part of `make test`): FUZZ_SECONDS per target.
fuzz: build-debug
	@for f in build-debug/fuzz/fuzz_*; do n=$${f##*/fuzz_}; mkdir -p build-debug/fuzz-work/$$n; \
	  $$f -max_total_time=$${FUZZ_SECONDS:-60} build-debug/fuzz-work/$$n fuzz/corpus/$$n || exit 1; done

format:
	@git ls-files '*.cpp' '*.hpp' '*.cc' | xargs clang-format -i

tidy: build-debug
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p build-debug --quiet

clean:
	rm -rf build build-debug build-pgo-gen
