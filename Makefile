# Makefile -- the README's commands: `make demo`, `make demo-train`, `make test`, `make bench`,
# `make install`.
# Each installs what it needs (scripts/install-deps.sh) and builds first.

BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
TSAN_TESTS ?= integration_(ckpt|crash_images|pmmd|hosts|resync|mirror_takeover|rights|manager_restart|unit_faults|flush|overload)|unit_|fuzz_replay_

.PHONY: all deps build demo demo-train test test-asan test-tsan fuzz fault soak bench install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

demo-train: build
	@scripts/demo-train.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 300

test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DNPMU_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@# (tests/lsan.supp: connection state libfabric's progress engine keeps to itself; the
	@# slow unwinder sees through libfabric, built without frame pointers, to match it)
	@cd $(BUILD)-asan && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ASAN_OPTIONS=fast_unwind_on_malloc=0 ctest --output-on-failure -j 2 --timeout 600

# the threaded parts under ThreadSanitizer: the library's lease renewer (streams, takeovers,
# fencing) and holder keepalive, pmmd's unit thread beside its receiving thread (the manager,
# restart, rights and multi-host tests), and a mirrored region's resync thread beside a writing
# thread (it_resync; mirror.sh itself is left out: its fail-over time bounds do not hold at
# TSan's speed), and a unit's flusher thread beside its service loop, under large persists
# (it_flush) and under a flood of client processes (it_overload).
test-tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=Debug -DNPMU_TSAN=ON >/dev/null
	@cmake --build $(BUILD)-tsan -j $(JOBS)
	@# (thread leaks are not reported: test children play primaries that die with their threads;
	@# those children are forked from a parent whose connections run keepalive threads)
	@cd $(BUILD)-tsan && TSAN_OPTIONS="halt_on_error=1 report_thread_leaks=0 die_after_fork=0" \
	  NPMU_TEST_TIME_SCALE=10 \
	  ctest --output-on-failure -j 2 --timeout 600 \
	  -R '$(TSAN_TESTS)'

# fault injection across namespaces (a seeded schedule, FAULT_SEED to replay) and crash images
FAULT_RUNS ?= 14
fault: build
	@scripts/install-deps.sh fault
	@tests/fault/fault.sh $(BUILD) --runs $(FAULT_RUNS) $(if $(FAULT_SEED),--seed $(FAULT_SEED))

# the fault schedule for SOAK_MINUTES (default 10), then the counts
SOAK_MINUTES ?= 10
soak: build
	@scripts/install-deps.sh fault
	@tests/fault/fault.sh $(BUILD) --seconds $$(( $(SOAK_MINUTES) * 60 )) $(if $(FAULT_SEED),--seed $(FAULT_SEED))

# each fuzz target for FUZZ_SECONDS under libFuzzer with ASan and UBSan (clang)
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	@scripts/fuzz.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

bench:
	@scripts/install-deps.sh bench
	@cmake -S . -B $(BUILD)-release -DCMAKE_BUILD_TYPE=Release -DNPMU_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)-release -j $(JOBS)
	@bench/run.sh $(BUILD)-release

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-release
