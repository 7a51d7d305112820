# Thin front end over CMake.  `make test` and `make demo` set up what they
# need on a fresh Debian machine (see scripts/deps.sh).  Our own builds
# (test, bench, build-types, CI) turn warnings into errors (RCY_WERROR=ON);
# `make build` and `make install` leave a fresh build directory as a plain
# cmake would.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
THREAD_TESTS := $(patsubst tests/%.c,%,$(wildcard tests/test_thread*.c)) worker_pool
BENCH_BUILD?= build-bench
DEB_BUILD  ?= build-deb
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CTEST      := ctest --output-on-failure -j $(JOBS)

BUILD_TYPES ?= Debug Release RelWithDebInfo MinSizeRel
TYPES_BUILD ?= build-types

.PHONY: all build demo test test-release test-asan test-tsan bench build-types fuzz install deb deb-check clean format deps docs

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

# Only the library and the tour: no tests, tools or other examples.
demo: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target tour
	@./$(BUILD)/tour

# The suite runs twice: a normal gcc build, then ASan + UBSan with clang;
# then the threaded tests (ctest label `thread`: tests/test_thread*.c and
# examples/worker_pool) once more under
# ThreadSanitizer, when clang can build with it.
test: test-release test-asan test-tsan

test-release: $(BUILD)/CMakeCache.txt
	cmake -S . -B $(BUILD) -DRCY_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && $(CTEST)

$(ASAN_BUILD)/CMakeCache.txt:
	@scripts/deps.sh build test
	@scripts/deps.sh --optional tools docs
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRCY_SANITIZE=ON -DRCY_DEBUG=ON -DRCY_WERROR=ON $(CMAKE_ARGS)

test-tsan:
	@if echo 'int main(void){return 0;}' | clang -fsanitize=thread -x c - -o /dev/null 2>/dev/null; then \
	  CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRCY_TSAN=ON -DRCY_WERROR=ON $(CMAKE_ARGS) >/dev/null && \
	  cmake --build $(TSAN_BUILD) -j $(JOBS) $(addprefix --target ,$(THREAD_TESTS)) && \
	  cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 $(CTEST) -L thread; \
	else echo "test-tsan: skipped, clang cannot build with -fsanitize=thread"; fi

test-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 RCY_SANITIZED=1 $(CTEST)

bench:
	@scripts/deps.sh build bench
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DRCY_BUILD_BENCH=ON -DRCY_BUILD_TESTS=OFF -DRCY_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BENCH_BUILD) -j $(JOBS)
	@bench/run.sh $(BENCH_BUILD)

# Every build type with gcc and with clang compiles without a warning
# (everything: library, tools, tests; nothing is run).  CI runs it after
# `make test`; and once with RCY_BUILD_TOOLS=OFF (library and tests alone).
build-types:
	@scripts/deps.sh build test
	@mkdir -p $(TYPES_BUILD); for cc in gcc clang; do for t in $(BUILD_TYPES); do \
	    d=$(TYPES_BUILD)/$$cc-$$t; echo "build-types: $$cc $$t"; \
	    { CC=$$cc cmake -S . -B $$d -DCMAKE_BUILD_TYPE=$$t -DRCY_WERROR=ON $(CMAKE_ARGS) && \
	      cmake --build $$d -j $(JOBS); } >$$d.log 2>&1 || \
	    { tail -n 40 $$d.log; echo "build-types: $$cc $$t failed (log: $$d.log)"; exit 1; }; \
	done; done
	@d=$(TYPES_BUILD)/gcc-notools; echo "build-types: gcc Debug, RCY_BUILD_TOOLS=OFF"; \
	{ CC=gcc cmake -S . -B $$d -DCMAKE_BUILD_TYPE=Debug -DRCY_WERROR=ON -DRCY_BUILD_TOOLS=OFF $(CMAKE_ARGS) && \
	  cmake --build $$d -j $(JOBS); } >$$d.log 2>&1 || \
	{ tail -n 40 $$d.log; echo "build-types: gcc without tools failed (log: $$d.log)"; exit 1; }

fuzz:
	@scripts/deps.sh build fuzz
	@if [ -x tests/fuzz/run.sh ]; then tests/fuzz/run.sh long; else echo "no fuzzers yet"; fi

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX),)

# Debian packages (cmake/packaging.cmake): librecycle0, librecycle-dev and
# recycle, in $(DEB_BUILD)/.  A build directory of its own: packages are
# laid out for /usr.
deb:
	@scripts/deps.sh build deb
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DRCY_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(DEB_BUILD) -j $(JOBS)
	cd $(DEB_BUILD) && cpack -G DEB
	@ls $(DEB_BUILD)/*.deb

# Install the packages with apt-get (as root), run the install test against
# /usr (the README's example with pkg-config, shared and -static, and a
# find_package(recycle) project), then remove them again.  CI runs it.
deb-check: deb
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(abspath $(DEB_BUILD))/*.deb >/dev/null
	RCY_INSTALLED=/usr RCY_SOURCE_DIR=$(CURDIR) CC=cc bash tests/install/check.sh; \
	  rc=$$?; DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq librecycle0 librecycle-dev recycle >/dev/null; exit $$rc

docs:
	@scripts/deps.sh docs
	doxygen docs/Doxyfile

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD) $(TYPES_BUILD) $(DEB_BUILD)
