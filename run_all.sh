#!/usr/bin/env bash
# SalesGAN pipeline: set-up, then the five notebooks chained by papermill, then the HTML report.
#
#   bash run_all.sh                    set up (first time only) and run the suite with the default profile
#   bash run_all.sh --test             set up, then the whole test suite
#   bash run_all.sh --help             every option
#
# Each stage NN writes outputs/<run>/NN_name/ and its executed notebook outputs/<run>/NN_name.ipynb; the next
# stage reads only those. See README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CALLER_DIR="$PWD"  # --data and --profile paths are relative to where the command was typed
cd "$ROOT"
# The package resolves notebooks/, params/ and outputs/ from this checkout even when another clone's copy of
# salesgan_utils is the one installed.
export SALESGAN_ROOT="${SALESGAN_ROOT:-$ROOT}"
# Tells the notebooks (params.notebook_settings) that papermill injected the complete parameters: no profile is
# re-applied on top of them.
export SALESGAN_PIPELINE=1

# Stage names, in order; salesgan_utils/paths.py (STAGES) holds the same list for the Python side.
STAGES=(01_eda_preprocess 02_train_gan 03_generate_samples 04_augmentation_benchmark 05_report)
TORCH_PIN="torch==2.13.0"  # CPU build here; an unpinned torch pulls a multi-GB CUDA build
KERNEL="${SALESGAN_KERNEL:-salesgan}"

usage() {
    cat <<'EOF'
Usage: bash run_all.sh [options]

Runs set-up (once), then the notebooks 01_eda_preprocess → 02_train_gan → 03_generate_samples →
04_augmentation_benchmark → 05_report with papermill, then exports outputs/<run>/report.html.

Options:
  --profile P      smoke | quick | full | kaggle, or the path of a params YAML file.
                   Default: quick (kaggle on Kaggle). smoke is the tiny CPU profile used by the tests.
  --data DIR       folder holding the Olist CSVs (.csv or .csv.gz); "demo" forces the generated demo data.
                   Default: discovery (SALESGAN_DATA_DIR, the Kaggle input, data/raw/, else demo data).
  --run NAME       run name: outputs go to outputs/NAME/ (default: the profile name).
  --set KEY=VALUE  override one notebook parameter (repeatable), e.g. --set max_epochs=3
  --from NN        start at stage NN (01..05); earlier stages' outputs of the same run are reused.
  --only NN        run stage NN alone (rerun one stage).
  --setup          set-up only: environment, packages, Jupyter kernel, notebook twins.
  --no-setup       skip the set-up checks and use the current python environment as it is.
  --test [-- ARGS] set-up (plus Chromium for the browser test where possible), then the whole test suite;
                   ARGS after -- go to pytest. Exits with pytest's status.
  --refresh-nbval  run the smoke profile on demo data and copy its executed notebooks into
                   tests/notebooks/reference/ (the nbval references).
  -h, --help       this text.

Environment: SALESGAN_OUTPUTS (outputs root), SALESGAN_DATA_DIR, SALESGAN_KAGGLE_ROOT, SALESGAN_SETUP=skip
(as --no-setup),
SALESGAN_TORCH_INDEX (a pip index URL for torch, e.g. https://download.pytorch.org/whl/cpu), SALESGAN_KERNEL.
EOF
}

log() { printf '[run_all %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '[run_all %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[run_all] ERROR: %s\n' "$*" >&2; exit "${2:-2}"; }
now() { printf '%s' "${EPOCHREALTIME:-$(date +%s)}"; }

on_kaggle() { [[ -n "${KAGGLE_KERNEL_RUN_TYPE:-}" || -d /kaggle/input ]]; }

# ------------------------------------------------------------------------------------------------- options
PROFILE=""
DATA=""
RUN=""
FROM=""
ONLY=""
MODE="pipeline"   # pipeline | setup | test | refresh-nbval
DO_SETUP=1
[[ "${SALESGAN_SETUP:-}" != "skip" ]] || DO_SETUP=0  # e.g. an image built with everything installed
SETS=()
PYTEST_ARGS=()

stage_arg() {  # "3", "03" or "03_generate_samples" → "03"
    local value="$1" name
    for name in "${STAGES[@]}"; do
        if [[ "$value" == "$name" || "$value" == "${name:0:2}" || "0$value" == "${name:0:2}" ]]; then
            printf '%s' "${name:0:2}"
            return 0
        fi
    done
    die "unknown stage '$value': use 01..05 (${STAGES[*]})"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --profile) [[ $# -ge 2 ]] || die "--profile needs a value"; PROFILE="$2"; shift 2 ;;
        --data) [[ $# -ge 2 ]] || die "--data needs a folder"; DATA="$2"; shift 2 ;;
        --run) [[ $# -ge 2 ]] || die "--run needs a name"; RUN="$2"; shift 2 ;;
        --set) [[ $# -ge 2 ]] || die "--set needs KEY=VALUE"; SETS+=("$2"); shift 2 ;;
        --from) [[ $# -ge 2 ]] || die "--from needs a stage"; FROM="$(stage_arg "$2")"; shift 2 ;;
        --only) [[ $# -ge 2 ]] || die "--only needs a stage"; ONLY="$(stage_arg "$2")"; shift 2 ;;
        --setup) MODE="setup"; shift ;;
        --no-setup) DO_SETUP=0; shift ;;
        --test) MODE="test"; shift ;;
        --refresh-nbval) MODE="refresh-nbval"; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
[[ -z "$FROM" || -z "$ONLY" ]] || die "use --from or --only, not both"
[[ ${#PYTEST_ARGS[@]} -eq 0 || "$MODE" == "test" ]] || die "arguments after -- are for --test (pytest)"

if [[ -z "$PROFILE" ]]; then
    if on_kaggle; then PROFILE="kaggle"; else PROFILE="quick"; fi
fi
# Fail before a minute of set-up when the profile does not exist (full validation comes after set-up).
if [[ "$PROFILE" == *.yaml || "$PROFILE" == *.yml || "$PROFILE" == */* ]]; then
    [[ "$PROFILE" == /* ]] || PROFILE="$CALLER_DIR/$PROFILE"
    [[ -f "$PROFILE" ]] || die "params file '$PROFILE' not found"
    PROFILE_NAME="$(basename "${PROFILE%.*}")"
else
    if [[ ! -f "params/$PROFILE.yaml" ]]; then
        available=""
        for file in params/*.yaml; do [[ -f "$file" ]] && available+="$(basename "$file" .yaml) "; done
        die "unknown profile '$PROFILE': available profiles are: ${available:-none}(params/*.yaml), or pass a YAML path"
    fi
    PROFILE_NAME="$PROFILE"
fi
RUN="${RUN:-$PROFILE_NAME}"
if [[ -n "$DATA" && "$DATA" != "demo" ]]; then
    [[ "$DATA" == /* ]] || DATA="$CALLER_DIR/$DATA"
    [[ -d "$DATA" ]] || die "--data '$DATA' is not a folder: pass the folder holding olist_orders_dataset.csv[.gz], or 'demo'"
    DATA="$(cd "$DATA" && pwd)"  # the kernels may run elsewhere: pass an absolute path
fi

# --------------------------------------------------------------------------------------------------- set-up
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

sync_notebooks() {  # the percent .py is the source; its .ipynb twin must match it before papermill runs it
    local sources=() name
    for name in "${STAGES[@]}"; do
        [[ -f "notebooks/$name.py" ]] && sources+=("notebooks/$name.py")
    done
    [[ ${#sources[@]} -gt 0 ]] || return 0
    # One way only, .py → .ipynb (inputs replaced, outputs kept). `jupytext --sync` would instead take whichever
    # twin is newer, and after a clone or a copy that can be a stale .ipynb overwriting the .py source. An .ipynb
    # edited after its .py (in Jupyter) with different inputs is refused, not guessed at.
    "$PY" - "${sources[@]}" <<'PYEOF'
import subprocess, sys
from pathlib import Path
import jupytext

def inputs(nb):
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]

stale, conflicts = [], []
for py in map(Path, sys.argv[1:]):
    ipynb = py.with_suffix(".ipynb")
    if ipynb.exists() and inputs(jupytext.read(ipynb)) == inputs(jupytext.read(py)):
        continue
    if ipynb.exists() and ipynb.stat().st_mtime > py.stat().st_mtime:
        conflicts.append((py, ipynb))
    else:
        stale.append(str(py))
for py, ipynb in conflicts:
    print(f"[run_all] ERROR: {ipynb} was edited after {py} and their cells differ. Keep the notebook's edits with\n"
          f"    python -m jupytext --to py:percent {ipynb}\n"
          f"or discard them with\n    python -m jupytext --to ipynb --update {py}", file=sys.stderr)
if conflicts:
    sys.exit(1)
if stale:
    print(f"[run_all] updating the .ipynb twins of: {' '.join(stale)}")
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--to", "ipynb", "--update", *stale], check=True)
PYEOF
}

if [[ "$DO_SETUP" -eq 1 ]]; then
    setup_python
    [[ "$MODE" != "test" ]] || install_chromium
elif [[ ! -x "$PY" ]]; then  # --no-setup without ./.venv: the python on PATH, as it is
    PY="$(command -v python3 || command -v python)"
fi
sync_notebooks

case "$MODE" in
    setup)
        log "set-up complete; run the suite with: bash run_all.sh --profile smoke"
        exit 0 ;;
    test)
        log "running the test suite: pytest tests/ (nbval compares tests/notebooks/reference/*.ipynb)"
        rc=0
        "$PY" -m pytest --nbval-lax --nbval-current-env tests/ ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"} || rc=$?
        log "pytest exited with $rc"
        exit "$rc" ;;
    refresh-nbval)
        tmp_outputs="$(mktemp -d -t salesgan-nbval.XXXXXX)"
        log "running the smoke profile on demo data into $tmp_outputs to refresh the nbval references"
        SALESGAN_OUTPUTS="$tmp_outputs" bash "$ROOT/run_all.sh" --no-setup --profile smoke --run nbval-ref --data demo
        mkdir -p tests/notebooks/reference
        for name in "${STAGES[@]}"; do
            cp "$tmp_outputs/nbval-ref/$name.ipynb" "tests/notebooks/reference/$name.ipynb"
        done
        rm -rf "$tmp_outputs"
        log "copied ${#STAGES[@]} executed notebooks into tests/notebooks/reference/ (review the diff, then commit)"
        exit 0 ;;
esac

# ------------------------------------------------------------------------------------------------- pipeline
for name in "${STAGES[@]}"; do
    [[ -f "notebooks/$name.ipynb" ]] || die "notebooks/$name.ipynb is missing (and no notebooks/$name.py to build it from)"
done

"$PY" -m salesgan_utils.params validate "$PROFILE" >/dev/null || die "params profile '$PROFILE' is invalid (see above)"
RUN_DIR="$("$PY" -m salesgan_utils.params run-dir --profile "$PROFILE" --run "$RUN")" || die "bad --run '$RUN'"

SELECTED=()
for name in "${STAGES[@]}"; do
    number="${name:0:2}"
    if [[ -n "$ONLY" && "$number" != "$ONLY" ]] || [[ -n "$FROM" && "$number" < "$FROM" ]]; then
        continue
    fi
    SELECTED+=("$name")
done

# Write every selected stage's parameters first, so that a bad --set fails before an hour of training.
mkdir -p "$RUN_DIR/params"
for name in "${SELECTED[@]}"; do
    args=(stage --stage "$name" --profile "$PROFILE" --run "$RUN" --out "$RUN_DIR/params/$name.yaml")
    [[ -z "$DATA" ]] || args+=(--data "$DATA")
    for item in ${SETS[@]+"${SETS[@]}"}; do args+=(--set "$item"); done
    "$PY" -m salesgan_utils.params "${args[@]}" || die "could not build the parameters of stage $name (see above)"
done

log "run '$RUN' with profile '$PROFILE_NAME' → $RUN_DIR"
log "stages: ${SELECTED[*]}"

report_failure() {  # the first error recorded in the executed notebook, so the cause is the last thing printed
    "$PY" - "$1" <<'PYEOF' || true
import sys
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
for cell in nb.cells:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            print(f"  {out.get('ename')}: {out.get('evalue')}", file=sys.stderr)
            sys.exit(0)
PYEOF
}

run_papermill() {  # papermill without its own traceback, which would bury the cell's error under click's frames
    "$PY" - "$@" <<'PYEOF'
import sys
import click
from papermill.cli import papermill
from papermill.exceptions import PapermillExecutionError
try:
    papermill.main(args=sys.argv[1:], prog_name="papermill", standalone_mode=False)
except PapermillExecutionError:
    sys.exit(1)  # the cell's error is in the executed notebook; report_failure prints it
except click.ClickException as error:
    error.show()
    sys.exit(error.exit_code)
except Exception as error:  # a dead kernel, an unreadable notebook: one line, no library frames
    print(f"papermill: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
PYEOF
}

for name in "${SELECTED[@]}"; do
    executed="$RUN_DIR/$name.ipynb"
    log "stage ${name:0:2}: $name (executed notebook: $executed)"
    start="$(now)"
    rc=0
    run_papermill "notebooks/$name.ipynb" "$executed" \
        -f "$RUN_DIR/params/$name.yaml" -k "$KERNEL" --language python \
        --log-output --progress-bar || rc=$?
    seconds="$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
    if [[ "$rc" -ne 0 ]]; then
        "$PY" -m salesgan_utils.report stage-time "$RUN_DIR" "$name" "$seconds" failed || true
        printf '\n[run_all] STAGE FAILED: %s (after %ss, papermill exit %s)\n' "$name" "$seconds" "$rc" >&2
        printf '[run_all] executed notebook with the traceback: %s\n' "$executed" >&2
        report_failure "$executed"
        printf '[run_all] earlier stages'"'"' outputs in %s are untouched; fix the cause, then rerun from here:\n' "$RUN_DIR" >&2
        printf '[run_all]   bash run_all.sh --profile %s --run %s --from %s\n' "$PROFILE" "$RUN" "${name:0:2}" >&2
        exit 1
    fi
    "$PY" -m salesgan_utils.report stage-time "$RUN_DIR" "$name" "$seconds" ok
    log "stage ${name:0:2} done in ${seconds}s"
done

if [[ " ${SELECTED[*]} " == *" 05_report "* ]]; then
    "$PY" -m salesgan_utils.report export "$RUN_DIR/05_report.ipynb" "$RUN_DIR/report.html" \
        --title "SalesGAN report — run $RUN" \
        || die "the HTML export of $RUN_DIR/05_report.ipynb failed (see above)" 1
    log "report: $RUN_DIR/report.html"
fi
log "done: run '$RUN' in $RUN_DIR (wall times in $RUN_DIR/stage_times.json)"
