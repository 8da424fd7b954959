#!/usr/bin/env bash
# SalesGAN: set-up, then `python -m salesgan_utils.pipeline`, which runs the five notebooks with papermill and
# exports the HTML report.
#
#   bash run_all.sh                    set up (first time only) and run the suite with the default profile
#   bash run_all.sh --test             set up, then the whole test suite
#   bash run_all.sh --help             every option
#
# This script holds only what must run before the Python dependencies exist: the virtualenv, the pinned torch,
# requirements.txt, the Jupyter kernel and (for --test) Chromium and the optional cluster engines (ray, dask).
# The options, stage selection, parameters, papermill calls, failure reports and resume commands live in
# salesgan_utils/pipeline.py and cli.py (unit-tested).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# --data and --profile paths are relative to where the command was typed (the pipeline reads this).
export SALESGAN_CALLER_DIR="${SALESGAN_CALLER_DIR:-$PWD}"
cd "$ROOT"

TORCH_PIN="torch==2.13.0"  # CPU build here; an unpinned torch pulls a multi-GB CUDA build
KERNEL="${SALESGAN_KERNEL:-salesgan}"

log() { printf '[run_all %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '[run_all %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[run_all] ERROR: %s\n' "$*" >&2; exit "${2:-2}"; }

on_kaggle() { [[ -n "${KAGGLE_KERNEL_RUN_TYPE:-}" || -d /kaggle/input ]]; }  # as salesgan_utils.paths.is_kaggle

# Which Python: Kaggle's own (torch and Lightning preinstalled), an active virtualenv, or ./.venv (created).
if on_kaggle; then
    ENV_KIND="Kaggle's python"
    PY="$(command -v python3 || command -v python)"
    STAMP="${HOME:-/tmp}/.cache/salesgan/setup.stamp"   # a Kaggle session starts fresh: so does the stamp
    KERNEL_WHERE=(--user)
elif [[ -n "${VIRTUAL_ENV:-}" ]]; then
    ENV_KIND="the active virtualenv $VIRTUAL_ENV"
    PY="$VIRTUAL_ENV/bin/python"
    STAMP="$VIRTUAL_ENV/.salesgan-setup.stamp"
    KERNEL_WHERE=(--prefix "$VIRTUAL_ENV")
else
    ENV_KIND="$ROOT/.venv"
    PY="$ROOT/.venv/bin/python"
    STAMP="$ROOT/.venv/.salesgan-setup.stamp"
    KERNEL_WHERE=(--prefix "$ROOT/.venv")
fi

# ------------------------------------------------------------------------------------------ the command line
# Checked by the pipeline's own parser, with the standard library only (nothing is installed yet), so that a bad
# option fails in a second rather than after a minute of set-up. It answers which set-up to do.
BOOT_PY="$PY"
if [[ ! -x "$BOOT_PY" ]]; then
    BOOT_PY="$(command -v python3 || true)"
    [[ -n "$BOOT_PY" ]] || die "python3 not found: install Python 3.10 or newer"
fi
SETUP="$("$BOOT_PY" -m salesgan_utils.pipeline --preflight "$@")" || exit $?
if [[ "$SETUP" == "help" ]]; then
    exec "$BOOT_PY" -m salesgan_utils.pipeline --help
fi

# --------------------------------------------------------------------------------------------------- set-up
setup_key() {  # changes when the requirements, the package metadata or the checkout's place change
    { cat requirements.txt pyproject.toml; printf '%s\n' "$ROOT" "$PY"; } | sha256sum | cut -c1-16
}

pip_install() { "$PY" -m pip install --quiet --disable-pip-version-check "$@"; }

missing_requirements() {  # the requirement lines whose module is not importable (Kaggle: keep its own builds)
    "$PY" - requirements.txt <<'PYEOF'
import importlib.util, re, sys
# pip name → import name, where they differ
MODULES = {"pytorch-lightning": "pytorch_lightning", "pyyaml": "yaml", "pytest-timeout": "pytest_timeout",
           "scikit-learn": "sklearn"}
for line in open(sys.argv[1], encoding="utf-8"):
    spec = line.split("#", 1)[0].strip()
    if spec:
        name = re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower()
        if importlib.util.find_spec(MODULES.get(name, name.replace("-", "_"))) is None:
            print(spec)
PYEOF
}

setup_python() {
    local key
    key="$(setup_key)"
    if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$key" ]]; then
        log "set-up already done for $ENV_KIND (stamp $STAMP)"
        return 0
    fi
    log "set-up in $ENV_KIND"
    if [[ "$ENV_KIND" == "$ROOT/.venv" && ! -x "$PY" ]]; then
        command -v python3 >/dev/null || die "python3 not found: install Python 3.10 or newer"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || die "$(python3 --version) is too old: SalesGAN needs Python 3.10 or newer"
        log "creating .venv with $(python3 --version)"
        python3 -m venv "$ROOT/.venv" \
            || die "python3 -m venv failed; on Debian/Ubuntu install the venv module: apt-get install python3-venv"
        "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    fi
    if "$PY" -c 'import torch' 2>/dev/null; then
        log "torch $("$PY" -c 'import torch; print(torch.__version__)') is importable: keeping it"
    else
        log "installing $TORCH_PIN (about 20 s from a local cache, longer from the network)"
        pip_install ${SALESGAN_TORCH_INDEX:+--index-url "$SALESGAN_TORCH_INDEX"} "$TORCH_PIN"
    fi
    if on_kaggle; then
        local missing
        missing="$(missing_requirements)"
        if [[ -n "$missing" ]]; then
            log "installing what Kaggle's image lacks: $(echo "$missing" | tr '\n' ' ')"
            # shellcheck disable=SC2086  # one requirement per word
            pip_install $missing
        else
            log "Kaggle's image has every requirement"
        fi
    else
        log "installing requirements.txt"
        pip_install -r requirements.txt
    fi
    log "installing the salesgan_utils package (editable)"
    # --no-deps: the requirements are installed above; the package itself declares none (see pyproject.toml).
    pip_install --no-deps -e .
    log "registering the Jupyter kernel '$KERNEL'"
    "$PY" -m ipykernel install "${KERNEL_WHERE[@]}" --name "$KERNEL" --display-name "Python (SalesGAN)" >/dev/null
    mkdir -p "$(dirname "$STAMP")"
    printf '%s' "$key" > "$STAMP"
    log "set-up done"
}

install_chromium() {  # for the report's browser test; never fails the set-up
    if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
        return 0
    fi
    local sudo=() log_file
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            warn "Chromium is not installed and neither root nor sudo is available: the browser test will skip"
            return 0
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        warn "Chromium is not installed and apt-get is absent: the browser test will skip"
        return 0
    fi
    log_file="$(mktemp -t salesgan-apt.XXXXXX)"
    log "installing the Debian package chromium for the browser test (log: $log_file)"
    if { "${sudo[@]}" apt-get update -qq \
         && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium fonts-liberation; } >"$log_file" 2>&1; then
        log "chromium installed"
    else
        warn "could not install chromium (see $log_file): the browser test will skip"
    fi
}

install_cluster_engines() {  # for the Ray and Dask engine tests (--test only); never fails the set-up
    if "$PY" -c "import ray, dask.distributed" >/dev/null 2>&1; then
        return 0
    fi
    log "installing the optional cluster engines for their tests (pyproject.toml extra 'cluster': ray, dask; no torch)"
    if ! pip_install "ray>=2.9" "dask[distributed]>=2024.1"; then
        warn "could not install ray/dask: the cluster engine tests will skip"
    fi
}

case "$SETUP" in
    setup) setup_python ;;
    "setup chromium") setup_python; install_chromium; install_cluster_engines ;;
    none) [[ -x "$PY" ]] || PY="$BOOT_PY" ;;  # --no-setup without ./.venv: the python on PATH, as it is
esac

exec "$PY" -m salesgan_utils.pipeline "$@"
