#!/usr/bin/env bash
# Renders the unmodified charts of tests/fixtures/lint/charts with the real helm in every mode
# (shared/fixtures/helm/SOURCE.txt, and the injector on), runs hardinit-lint on each render, and
# prints the README's table of findings (every one that is not PASS) and tests/lint.rs's
# expectations. A render with a FAIL (exit 1) is listed as any other.
#   bash scripts/lint-charts.sh readme
#   bash scripts/lint-charts.sh expected > tests/fixtures/lint/expected.rs
set -euo pipefail
cd "$(dirname "$0")/.."
helm=$(bash scripts/fetch-helm.sh)
cargo build --quiet --features lint --bin hardinit-lint
lint=$PWD/target/debug/hardinit-lint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The ha-raft-zones values of SOURCE.txt, as tests/lint.rs writes them.
sed -n '/^const ZONES_VALUES: &str = "/,/^";$/p' tests/lint.rs | sed '1s/.*/server:/; $d; s/\\"/"/g' > "$work/zones.yaml"
if [ "${1:-readme}" = expected ]; then
    echo "// Made by \`bash scripts/lint-charts.sh expected\`: each render's findings that are not PASS."
    echo "fn expected(chart: &str, mode: &str) -> &'static [&'static str] {"
    echo "    match (chart, mode) {"
fi
for chart in vault openbao; do
    modes=(dev standalone ha ha-raft standalone-extraargs injector)
    [ "$chart" = vault ] && modes+=(ha-raft-zones)
    for mode in "${modes[@]}"; do
        case $mode in
            dev) args=(--set server.dev.enabled=true) ;;
            standalone) args=() ;;
            ha) args=(--set server.ha.enabled=true) ;;
            ha-raft) args=(--set server.ha.enabled=true,server.ha.raft.enabled=true) ;;
            standalone-extraargs) args=(--set 'server.extraArgs=-log-level=debug -log-format=json') ;;
            injector) args=(--set injector.enabled=true) ;;
            ha-raft-zones) args=(--kube-version 1.35.0 -f "$work/zones.yaml") ;;
        esac
        (cd tests/fixtures/lint/charts && "$helm" template "$chart" "$chart" -n default "${args[@]}") \
            | { "$lint" --format json - || [ $? -eq 1 ]; } \
            | python3 -c '
import json, sys
chart, mode, what = sys.argv[1:]
found = [c for c in json.load(sys.stdin)["checks"] if c["status"] != "PASS"]
if what == "expected":
    print("        (\"%s\", \"%s\") => &[" % (chart, mode))
    for c in found:
        print("            \"%s %s %s\"," % (c["object"], c["status"], c["id"]))
    print("        ],")
else:
    cells = []
    for obj in dict.fromkeys(c["object"] for c in found):
        cells.append(obj + ": " + ", ".join(c["status"] + " " + c["id"] for c in found if c["object"] == obj))
    print("| %s | %s | %s |" % (chart, mode, "; ".join(cells)))
' "$chart" "$mode" "${1:-readme}"
    done
done
if [ "${1:-readme}" = expected ]; then
    echo '        _ => panic!("no expectation for {chart} {mode}"),'
    echo "    }"
    echo "}"
fi
