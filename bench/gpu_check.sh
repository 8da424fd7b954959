#!/usr/bin/env bash
# GPU check of the conditional WGAN-GP, in three parts, from the device's own Python (torch preinstalled):
#   1. a few seed-size training steps of today's trainer on CUDA (gradient penalty included: also the check that no
#      cuDNN RNN sits under the penalty's double backward): steps/s at batch 128 and peak GPU memory;
#   2. the batched generator ensemble (`gan.GanEnsemble`, device="cuda") at M = 1, 5, 20 members, quick and seed
#      sizes, against M sequential trainings of today's trainer on the same GPU (bench/bench_ensemble.py), and the
#      CUDA test that an ensemble on the GPU trains the members it trains on the CPU;
#   3. with --e2e: one end-to-end kaggle-profile run on the demo data with a 5-minute budget (the work cut by
#      --set so that every stage ends in minutes; stage 02 trains the seed-size GAN on the GPU and stops on its
#      share, stage 04's fair generators train on the GPU), kernel `python3` (SALESGAN_KERNEL), no set-up.
# Without CUDA it exits at once (status 0) with a message.
#
# Usage: bash bench/gpu_check.sh [PYTHON] [--e2e]   (default: .venv/bin/python if present, else python3)
# Parts 1-2 take about 3 minutes on one H200, part 3 about 6; each part is capped.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=""
E2E=0
for arg in "$@"; do
    case "$arg" in
        --e2e) E2E=1 ;;
        *) PYTHON="$arg" ;;
    esac
done
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"

# NVML-based check: asks the driver without initialising CUDA in this process
if ! PYTORCH_NVML_BASED_CUDA_CHECK=1 "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device visible to $PYTHON; nothing to do (run this on a GPU machine)."
    exit 0
fi
"$PYTHON" -c "import torch; print('gpu_check: torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"

echo "gpu_check: 1. today's trainer, seed size"
timeout 300 "$PYTHON" bench/bench_gan.py --accelerator gpu --sizes full --steps 30 \
    --note "GPU check: bash bench/gpu_check.sh (seed-size steps on CUDA, penalty included)." || echo "gpu_check: part 1 failed"

echo "gpu_check: 2. the generator ensemble on the GPU"
timeout 420 "$PYTHON" bench/bench_ensemble.py --device cuda --sizes quick full --members 1 5 20 --steps 5 \
    || echo "gpu_check: part 2 failed"
timeout 180 "$PYTHON" -m pytest -q -p no:cacheprovider tests/code/test_gan_ensemble.py -k gpu \
    || echo "gpu_check: the CUDA ensemble test failed"

if [[ "$E2E" == 1 ]]; then
    echo "gpu_check: 3. end-to-end kaggle profile, demo data, 5-minute budget"
    start=$(date +%s)
    SALESGAN_KERNEL="${SALESGAN_KERNEL:-python3}" timeout 600 "$PYTHON" -m salesgan_utils.pipeline --no-setup \
        --profile kaggle --data demo --run gpu_check_e2e \
        --set time_budget_min=5 --set demo_n_products=80 --set top_n=60 --set n_seeds=1 --set tune_seeds=1 \
        --set forecaster_epochs=2 --set forecaster_steps_per_epoch=20 --set forecaster_val_windows=500 \
        --set scarcity_sizes=[250] --set fair_gan_sizes=[250] --set fair_gan_steps=50 --set ratios=[1.0] \
        --set forecaster_losses=[mse] --set forecaster_lrs=[0.001] --set augmentations=[jitter] \
        --set disc_epochs=2 --set disc_seeds=1 --set likelihood_seeds=1 --set likelihood_epochs=1 \
        && echo "gpu_check: end-to-end run finished in $(( $(date +%s) - start )) s" \
        || echo "gpu_check: end-to-end run failed after $(( $(date +%s) - start )) s"
fi
echo "gpu_check: done"
