#!/usr/bin/env bash
# Wall time of the smoke suite, per stage: runs `run_all.sh --profile smoke` into a scratch outputs folder and
# prints outputs/<run>/stage_times.json as a table. Timings are recorded here (bench/), never asserted in tests.
#
#   bash bench/bench_suite.sh [--profile P] [extra run_all.sh options]    (default profile: smoke)
# Environment: BENCH_OUTPUTS keeps the run somewhere (default: a temporary folder, removed afterwards).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROFILE="smoke"
if [[ "${1:-}" == "--profile" ]]; then PROFILE="$2"; shift 2; fi
RUN="bench-$PROFILE"
OUTPUTS="${BENCH_OUTPUTS:-$(mktemp -d -t salesgan-bench.XXXXXX)}"
[[ -n "${BENCH_OUTPUTS:-}" ]] || trap 'rm -rf "$OUTPUTS"' EXIT

# Set-up first and apart, so that its one-off cost is not in the suite's time.
bash run_all.sh --setup >/dev/null
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"
PY="${PY:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"

start="$(date +%s.%N)"
SALESGAN_OUTPUTS="$OUTPUTS" bash run_all.sh --no-setup --profile "$PROFILE" --run "$RUN" --data demo "$@"
end="$(date +%s.%N)"

"$PY" - "$OUTPUTS/$RUN/stage_times.json" "$start" "$end" "$PROFILE" <<'PYEOF'
import json, os, platform, sys
times = json.load(open(sys.argv[1]))
total = float(sys.argv[3]) - float(sys.argv[2])
print(f"\nSalesGAN suite, profile {sys.argv[4]}, demo data — {platform.node()}, {os.cpu_count()} CPUs, "
      f"python {platform.python_version()}")
print(f"{'stage':<28}{'seconds':>10}  status")
for stage, entry in times.items():
    print(f"{stage:<28}{entry['seconds']:>10.1f}  {entry['status']}")
print(f"{'stages total':<28}{sum(e['seconds'] for e in times.values()):>10.1f}")
print(f"{'run_all.sh wall (no set-up)':<28}{total:>10.1f}  (includes sync, params and the HTML export)")
PYEOF
