#!/usr/bin/env bash
# The GPU check, ready for any machine with a hardware adapter (a lent device machine, a user's
# workstation): every op test under every kernel tuning on that adapter, then `purify bench`, in
# one run of a few minutes, written as one JSON (adapter, per-file test results, benchmark rows).
#
# Usage: tools/gpu-check.sh [OUT.json] [--allow-software]
#   OUT.json          default reports/gpu-check-<adapter>.json
#   --allow-software  run on a CPU adapter too (to try the script itself; the JSON says so)
# GPU_CHECK_BENCH_FILTER=TEXT benchmarks only the rows whose op and shape contain TEXT.
# Needs node_modules (npm ci, or carried over from a machine that has it) and a Vulkan/Metal/D3D12
# driver Dawn can see; PURIFY_ADAPTER=NAME picks among several adapters.
set -euo pipefail
cd "$(dirname "$0")/.."
out=""
allow_software=0
for arg in "$@"; do
  case "$arg" in
    --allow-software) allow_software=1 ;;
    *) out="$arg" ;;
  esac
done
if [ ! -d node_modules/webgpu ]; then
  echo "gpu-check: node_modules/webgpu is missing: run npm ci (or carry node_modules) first" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

node --import tsx -e '
  import("./engine/index.ts").then(async ({ Engine }) => {
    const e = await Engine.create();
    console.log(JSON.stringify({ adapter: e.describe(), software: e.gpu.software, tuning: e.tuning.name }));
    process.exit(0);
  });' 2>/dev/null | tail -1 > "$work/adapter.json"
echo "gpu-check: $(cat "$work/adapter.json")" >&2
if grep -q '"software":true' "$work/adapter.json" && [ "$allow_software" = 0 ]; then
  echo "gpu-check: the chosen adapter is a CPU driver; pass --allow-software to run anyway, or PURIFY_ADAPTER=NAME" >&2
  exit 3
fi
adapter_slug=$(node -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).adapter; console.log(a.split(/[:(]/)[0].trim().toLowerCase().replace(/[^a-z0-9]+/g, "-"))' "$work/adapter.json")
out=${out:-reports/gpu-check-$adapter_slug.json}

started=$(date +%s)
set +e
node tools/run-tests.mjs test/ops > "$work/ops.log" 2>&1
ops_status=$?
node tools/purify.mjs bench --repeats 3 ${GPU_CHECK_BENCH_FILTER:+--filter "$GPU_CHECK_BENCH_FILTER"} --json "$work/bench.json" > "$work/bench.log" 2>&1
bench_status=$?
set -e
node -e '
  const fs = require("fs");
  const [adapterFile, opsLog, benchFile, opsStatus, benchStatus, seconds, out] = process.argv.slice(1);
  const log = fs.readFileSync(opsLog, "utf8");
  const files = [...log.matchAll(/^\s+(ok|FAIL)\s+(\S+)\s+\(([\d.]+) s\)/gm)].map(([, r, file, s]) => ({ file, ok: r === "ok", seconds: Number(s) }));
  const report = {
    ...JSON.parse(fs.readFileSync(adapterFile, "utf8")),
    date: new Date().toISOString(),
    seconds: Number(seconds),
    opTests: { exitCode: Number(opsStatus), files, failures: log.split("\n").filter((l) => /^\s+(FAIL|replay:)/.test(l)) },
    bench: fs.existsSync(benchFile) ? JSON.parse(fs.readFileSync(benchFile, "utf8")) : null,
    benchExitCode: Number(benchStatus),
  };
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
' "$work/adapter.json" "$work/ops.log" "$work/bench.json" "$ops_status" "$bench_status" "$(( $(date +%s) - started ))" "$out"
tail -n 3 "$work/ops.log" >&2
tail -n 40 "$work/bench.log" >&2
echo "gpu-check: wrote $out (op tests exit $ops_status, bench exit $bench_status)" >&2
[ "$ops_status" = 0 ] && [ "$bench_status" = 0 ]
