# bftgate: one command per workflow. Each target installs what is missing (scripts/bootstrap.sh),
# configures and builds with a CMake preset, then runs.
#   make run     the demo (release build)
#   make test    every test through ctest (PRESET=asan-ubsan for the sanitizer build)
#   make bench   the benchmarks; figures go to a run folder under runs/
#   make fuzz    the libFuzzer targets for FUZZ_SECONDS each (clang)
#   make experiments  every experiment (SIZE=full, or smoke), plots and one summary (release)
#   make paper   paper/build/bftgate.pdf from the newest run folders (or PAPER_RUNS=...)
#   make robustness  the schedule searches and the SPIN model into run folders (SIZE=full or smoke)
#   make chaos   a real cluster under a random nemesis (ROUNDS=1000, SECONDS=0: no time limit)
#   make mutation  each seeded bug compiled in and hunted by the search and the tests
#                (BUGS=a,b for some; MUTATION_BUILD=DIR to reuse a build tree;
#                MUTATION_OUT=DIR for its run folder)
PRESET ?= debug
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
BENCH_FILTER ?= .
BENCH_MIN_TIME ?= 0.3
SIZE ?= full
BUGS ?=
SEARCH_SECONDS ?= 60
MUTATION_BUILD ?= build/mutation
MUTATION_OUT ?=
ROUNDS ?= 1000
SECONDS ?= 0

.PHONY: compile-times all bootstrap configure build run test bench fuzz experiments robustness paper mutation chaos \
        format clean

all: build

bootstrap:
	@scripts/bootstrap.sh

configure: bootstrap
	@scripts/configure_preset.sh $(PRESET)

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Builds only the one executable the demo runs (not the tests and benchmarks).
run:
	@scripts/bootstrap.sh
	@scripts/configure_preset.sh release
	@cmake --build --preset release -j $(JOBS) --target bftgate
	@build/release/apps/bftgate/bftgate demo

# The tests also need what the experiment checks use (matplotlib, GNU parallel).
test:
	@scripts/bootstrap.sh --test
	@$(MAKE) --no-print-directory build
	@ctest --preset $(PRESET) -j $(JOBS)

experiments:
	@scripts/bootstrap.sh --test
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/run_experiments.sh build/release $(SIZE) $(JOBS)

# The paper's schedule-search and model-check run folders (spin comes with the test packages).
robustness:
	@scripts/bootstrap.sh --test
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/run_robustness.sh build/release $(SIZE) $(JOBS)

# Reads run folders only (make experiments writes them); builds no C++.
paper:
	@scripts/bootstrap.sh --paper
	@scripts/build_paper.sh

# Real processes, faults by nftables in a network namespace of its own where it runs as root.
chaos:
	@scripts/bootstrap.sh --test
	@$(MAKE) --no-print-directory build PRESET=release
	@build/release/apps/bftgate/bftgate chaos --rounds $(ROUNDS) --time $(SECONDS)

# Builds its own tree (release preset, one seeded bug at a time): see scripts/mutation.sh.
mutation:
	@scripts/bootstrap.sh --test
	@scripts/mutation.sh $(if $(BUGS),--bugs $(BUGS)) --build-dir $(MUTATION_BUILD) \
	  --search-seconds $(SEARCH_SECONDS) --jobs $(JOBS) $(if $(MUTATION_OUT),--out $(MUTATION_OUT))

bench:
	@scripts/bootstrap.sh --bench
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/run_bench.sh build/release "$(BENCH_FILTER)" "$(BENCH_MIN_TIME)"

fuzz:
	@scripts/bootstrap.sh --fuzz
	@scripts/configure_preset.sh fuzz
	@cmake --build --preset fuzz -j $(JOBS) --target bftgate_fuzzers
	@scripts/run_fuzz.sh build/fuzz $(FUZZ_SECONDS)

# Times every compile of a clean release build of TARGET (default: bftgate, what make run
# builds) through scripts/compile_timer.sh, then lists the translation units that cost most and
# the heavy headers each pulls in (scripts/compile_report.py).
compile-times:
	@scripts/bootstrap.sh
	@rm -rf build/compile-times
	@cmake --preset release -B build/compile-times \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=$(CURDIR)/scripts/compile_timer.sh \
	  -DCMAKE_CUDA_COMPILER_LAUNCHER=$(CURDIR)/scripts/compile_timer.sh >/dev/null
	@BFTGATE_COMPILE_TIMES=$(CURDIR)/build/compile-times/times.log \
	  cmake --build build/compile-times -j $(JOBS) --target $(or $(TARGET),bftgate)
	@/usr/bin/python3 scripts/compile_report.py build/compile-times/times.log --top 15

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
