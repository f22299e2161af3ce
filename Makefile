# Thin wrapper over CMake: `make` builds, `make run` starts a local Repoint, `make test` runs the
# whole suite (the normal build, then once more under AddressSanitizer + UBSan with the fuzzers).
BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= $(shell nproc)

.PHONY: all build run test test-fast test-san deps clean format

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run:
	@deploy/run-local.sh

deps:
	@deploy/install-deps.sh --test

test: deps test-fast test-san

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j2

test-san:
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DRP_SANITIZE=ON -DRP_FUZZ=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j$(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
