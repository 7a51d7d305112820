# Thin front end over CMake.  `make test` and `make demo` set up what they
# need on a fresh Debian machine (see scripts/deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
BENCH_BUILD?= build-bench
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CTEST      := ctest --output-on-failure -j $(JOBS)

.PHONY: all build demo test test-release test-asan bench fuzz install clean format deps docs

all: build

deps:
	@scripts/deps.sh build test
	@scripts/deps.sh --optional tools docs

$(BUILD)/CMakeCache.txt:
	@scripts/deps.sh build test
	@scripts/deps.sh --optional tools docs
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./$(BUILD)/tour

# The suite runs twice: a normal gcc build, then ASan + UBSan with clang.
test: test-release test-asan

test-release: build
	cd $(BUILD) && $(CTEST)

$(ASAN_BUILD)/CMakeCache.txt:
	@scripts/deps.sh build test
	@scripts/deps.sh --optional tools docs
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRCY_SANITIZE=ON -DRCY_DEBUG=ON $(CMAKE_ARGS)

test-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 RCY_SANITIZED=1 $(CTEST)

bench:
	@scripts/deps.sh build bench
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DRCY_BUILD_BENCH=ON -DRCY_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(BENCH_BUILD) -j $(JOBS)
	@bench/run.sh $(BENCH_BUILD)

fuzz:
	@scripts/deps.sh build fuzz
	@if [ -x tests/fuzz/run.sh ]; then tests/fuzz/run.sh long; else echo "no fuzzers yet"; fi

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX),)

docs:
	@scripts/deps.sh docs
	doxygen docs/Doxyfile

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD)
