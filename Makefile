# Makefile -- the README's commands: `make demo`, `make test`, `make bench`, `make install`.
# Each installs what it needs (scripts/install-deps.sh) and builds first.

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test test-asan bench install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 300

test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DNPMU_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ctest --output-on-failure -j 2 --timeout 600

bench:
	@scripts/install-deps.sh bench
	@cmake -S . -B $(BUILD)-release -DCMAKE_BUILD_TYPE=Release -DNPMU_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)-release -j $(JOBS)
	@bench/run.sh $(BUILD)-release

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-release
