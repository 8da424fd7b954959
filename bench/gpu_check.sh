#!/usr/bin/env bash
# GPU check of the conditional WGAN-GP: a few seed-size training steps on CUDA (gradient penalty included: this is
# also the check that no cuDNN RNN sits under the penalty's double backward), reporting steps/s at batch 128 and
# peak GPU memory. Without CUDA it exits at once (status 0) with a message.
#
# Usage: bash bench/gpu_check.sh [PYTHON]   (default: .venv/bin/python if present, else python3)
# Takes about a minute on one modern GPU (two short fits, 1 + 31 steps); capped at 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"

# NVML-based check: asks the driver without initialising CUDA in this process
if ! PYTORCH_NVML_BASED_CUDA_CHECK=1 "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device visible to $PYTHON; nothing to do (run this on a GPU machine)."
    exit 0
fi

"$PYTHON" -c "import torch; print('gpu_check: torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"
# full (seed) size only, 30 timed steps after one warm-up; the table goes to stdout (paste it into bench/RESULTS.md)
timeout 300 "$PYTHON" bench/bench_gan.py --accelerator gpu --sizes full --steps 30 \
    --note "GPU check: bash bench/gpu_check.sh (seed-size steps on CUDA, penalty included)."
echo "gpu_check: done"
