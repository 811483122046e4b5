#!/usr/bin/env bash
# Fuzzes hardinit's parsers and pure decisions with libFuzzer, through cargo-fuzz on the stable
# toolchain (`-s none`: no sanitizer, which needs nightly; libFuzzer's coverage, comparisons and
# value profile still work). Every target runs for SECONDS, one after the other.
#
#   fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds, every target in fuzz/Cargo.toml
#
# Seeds: fuzz/corpus/TARGET/ (committed: real inputs, and every input that ever found a bug,
# named seed-bug-*) and the project's fixtures (chart configurations and scripts). What a run
# adds goes to target/fuzz/corpus/TARGET/, never into the repository. A crash, a timeout
# (-timeout) or an input over the memory limit (-rss_limit_mb) fails the run and prints the
# artifact with the commands that reproduce and minimise it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\([a-z_0-9]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^hardinit-fuzz$')
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz --version 0.13.2
(cd fuzz && for t in "${targets[@]}"; do cargo fuzz build -s none -O "$t"; done)

dictionary() {
    case "$1" in
        config_reader | checklist) echo fuzz/dicts/hcl.dict ;;
        sh_parser | sh_expansion) echo fuzz/dicts/sh.dict ;;
        command_line | entrypoint) echo fuzz/dicts/flags.dict ;;
    esac
}

# The fixtures as seeds, read where they are: chart configurations, chart and injector scripts.
fixture_seeds() {
    local target=$1 out=$2
    case "$target" in
        config_reader | checklist)
            find tests/fixtures -name '*.hcl' -exec cp {} "$out/" \; ;;
        sh_parser | sh_expansion)
            python3 - "$out" <<'PY'
import hashlib, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for path in pathlib.Path("tests/fixtures").rglob("*.json"):
    try:
        value = json.loads(path.read_text())
    except ValueError:
        continue
    items = value if isinstance(value, list) else value.get("args", []) if isinstance(value, dict) else []
    for script in (s for s in items if isinstance(s, str) and len(s) > 20):
        (out / ("fixture-" + hashlib.sha1(script.encode()).hexdigest()[:12])).write_text(script)
PY
            ;;
    esac
}

for target in "${targets[@]}"; do
    work="target/fuzz/corpus/$target"
    artifacts="target/fuzz/artifacts/$target"
    mkdir -p "$work" "$artifacts" "fuzz/corpus/$target"
    fixture_seeds "$target" "$work"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1
        -artifact_prefix="$PWD/$artifacts/")
    dict=$(dictionary "$target")
    [ -n "$dict" ] && options+=(-dict="$PWD/$dict")
    log="target/fuzz/$target.log"
    if ! (cd fuzz && cargo fuzz run -s none -O "$target" "../$work" "corpus/$target" -- "${options[@]}") >"$log" 2>&1; then
        echo "fuzz $target: FAILED" >&2
        grep -E "^==|panicked|assertion|Test unit written|Reproduce with|cargo fuzz (run|tmin)|SUMMARY|ERROR" "$log" >&2 || tail -n 40 "$log" >&2
        for artifact in "$artifacts"/*; do
            [ -e "$artifact" ] || continue
            echo "artifact: $artifact (reproduce: cd fuzz && cargo fuzz run -s none -O $target ../$artifact; minimise: cargo fuzz tmin -s none -O $target ../$artifact)" >&2
            od -c "$artifact" | head -n 8 >&2
        done
        exit 1
    fi
    stats=$(grep -E "^stat::(number_of_executed_units|new_units_added)" "$log" | awk '{print $2}' | paste -sd/ -)
    cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -n 1)
    echo "fuzz $target: ${seconds}s, $cov, executions/new inputs $stats"
done
