# Reach: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages (apt-get, non-interactive), configure and build first.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-asan bench fuzz format lint clean

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

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (separate build dir).
test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DREACH_SANITIZE=ON
	ninja -C build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure --timeout 900 -j$(JOBS) -E 'kill|bench'

# End-to-end benchmark (not part of `make test`): prints the figures beside the machine's ceilings.
bench: build
	@bash scripts/bench.sh $(BUILD)

# libFuzzer targets (clang), then a short run of each.
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DREACH_FUZZ=ON -DREACH_WERROR=OFF
	ninja -C build-fuzz -j$(JOBS)
	cd build-fuzz && ctest --output-on-failure -R fuzz

format:
	find common config throttling templates adapters gateway tools tests -name '*.h' -o -name '*.cc' | xargs clang-format -i

lint:
	find common config throttling templates adapters gateway tools tests -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) build-asan build-fuzz
