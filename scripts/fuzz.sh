#!/usr/bin/env bash
# Coverage-guided fuzzing of hardinit's parsers on the stable toolchain: the unit tests of
# src/fuzzing.rs's `guided` module, built with LLVM SanitizerCoverage's inline 8-bit counters
# (rustc -C passes=sancov-module, no nightly, no libFuzzer), each target run for SECONDS.
#
#   fuzz.sh [SECONDS] [TARGET...]     TARGET: config_reader passwd_and_group command_line
#                                     entrypoint_rewriting sh_parser (default: all, one by one)
#
# New corpus entries land in fuzz/corpus/TARGET/; an input that panics, hangs or gives a
# multi-line error is saved in fuzz/crashes/ and the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config_reader passwd_and_group command_line entrypoint_rewriting sh_parser)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=3 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cdebug-assertions"
export CARGO_TARGET_DIR=target/fuzz
# With --target, RUSTFLAGS reach only the target code, not build scripts (which have no callback).
triple=$(rustc -vV | sed -n "s/^host: //p")
# Only the unit-test harness: the callback the counters need is test code.
cargo test --quiet --release --locked --bin hardinit --target "$triple" --no-run
for target in "${targets[@]}"; do
    out=$(HARDINIT_FUZZ_SECONDS=$seconds cargo test --quiet --release --locked --bin hardinit --target "$triple" \
        "fuzzing::guided::$target" -- --ignored --exact --nocapture 2>&1) || { echo "$out" >&2; echo "fuzz $target: failed" >&2; exit 1; }
    echo "$out" | grep "^fuzz "
done
