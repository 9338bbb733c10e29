# Reach: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages (apt-get, non-interactive), configure and build first.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-asan bench fuzz fuzz-smoke format lint clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: deps configure
	ninja -C $(BUILD) -j$(JOBS)

# Starts reach-sim (fake providers) and reachd on config/reachd.yaml in the foreground.
# Ctrl-C stops both.
run: build
	@bash scripts/run.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j$(JOBS)
	@$(MAKE) --no-print-directory fuzz-smoke

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (separate build dir).
test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DREACH_SANITIZE=ON
	ninja -C build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure --timeout 900 -j$(JOBS) -E 'kill|bench'

# End-to-end benchmark (not part of `make test`): prints the figures beside the machine's ceilings.
bench: build
	@bash scripts/bench.sh $(BUILD)

# libFuzzer targets (clang, separate build dir build-fuzz). `fuzz-smoke` (run by `make test`, so by
# CI) builds only the fuzz executables, not the rest of the project, and runs each for
# FUZZ_SECONDS on its seeds plus the corpus kept in build-fuzz; any crash, leak, hang, or sanitizer
# report fails it. Without clang it says so and is skipped. `make fuzz` is the longer manual run.
FUZZ_TARGETS ?= template_parser_fuzz
FUZZ_SECONDS ?= 20

fuzz-smoke: deps
	@if ! command -v clang++ >/dev/null 2>&1; then \
	  echo "fuzz-smoke: clang++ not found, skipped"; exit 0; fi; \
	set -e; mkdir -p build-fuzz; \
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DREACH_FUZZ=ON -DREACH_WERROR=OFF \
	  >build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log; exit 1; }; \
	ninja -C build-fuzz -j$(JOBS) $(FUZZ_TARGETS); \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "fuzz-smoke: $$t for $(FUZZ_SECONDS) s"; \
	  build-fuzz/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
	    -artifact_prefix=build-fuzz/$$t- -print_final_stats=1 \
	    build-fuzz/corpus/$$t tests/fuzz/seeds 2>build-fuzz/$$t.log \
	    || { tail -n 60 build-fuzz/$$t.log; echo "fuzz-smoke: $$t FAILED"; exit 1; }; \
	  grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs|stat::number_of_executed_units)' build-fuzz/$$t.log \
	    | tail -n 2; \
	done

fuzz:
	@$(MAKE) --no-print-directory fuzz-smoke FUZZ_SECONDS=300

format:
	find common config throttling templates adapters gateway tools tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

lint:
	find common config throttling templates adapters gateway tools tests bench -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) build-asan build-fuzz
