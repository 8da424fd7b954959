"""Run parameters: the notebooks' `parameters` cells, the `params/*.yaml` profiles, and their validation.

The single source of truth for what a parameter is called, which stage uses it and what type it has is the
`parameters` cell of each notebook source (`notebooks/NN_name.py`, jupytext percent format, cell header
`# %% tags=["parameters"]`, plain literals only). A profile is a flat YAML mapping of those names; a key may be
shared by several stages (`seed`, `max_train_windows`) and then applies to each of them. A profile may also hold
a section named after one stage (`02_train_gan:` or `"02":`) whose keys apply to that stage only.

Command line (tools for a user: write one stage's papermill parameters, check a profile, show a run folder; the
suite's own command line is `salesgan_utils.pipeline`)::

    python -m salesgan_utils.params stage --stage 2 --profile smoke --run smoke [--data DIR] [--set k=v ...] --out F
    python -m salesgan_utils.params validate smoke
    python -m salesgan_utils.params run-dir --profile smoke --run smoke
"""
from __future__ import annotations

import argparse
import ast
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from salesgan_utils import paths, yamlfile
from salesgan_utils.yamlfile import bounded

PARAMETERS_HEADER = re.compile(r"^# %%.*\btags\s*=\s*\[[^\]]*[\"']parameters[\"']")
CELL_HEADER = re.compile(r"^# %%")
# Keys whose meaning admits more than the notebook default's type: Lightning takes `devices` as "auto", a count
# or a list of device indices.
EXTRA_TYPES: dict[str, tuple[type, ...]] = {"devices": (str, int, list)}
# Smallest sensible value of integer keys; any other integer key must be >= 0 (0 means "all" for the
# max_*/limit_*/top_n keys).
MIN_ONE = {
    "horizon", "history_days", "stride", "demo_n_products", "noise_dim", "cond_dim", "history_hidden", "gru_hidden",
    "gru_layers", "n_critic", "max_epochs", "val_samples", "n_samples", "quality_max_windows", "disc_epochs",
    "n_seeds", "forecaster_hidden", "forecaster_layers", "forecaster_epochs", "backtest_folds", "fair_gan_ensembles",
}
ENTITIES = ("product", "category")
# Closed sets of values, by key. Their owners are higher modules (augment.AUGMENTATIONS, train.resolve_devices)
# that params must not import; tests/code/test_params.py checks that these copies match them.
AUGMENTATION_NAMES = ("jitter", "scaling", "block_bootstrap")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda")
FORECASTER_LOSSES = ("mse", "poisson", "tweedie", "quantile")  # forecaster.LOSSES
EXECUTORS = ("local", "ray", "dask")  # executor.EXECUTORS
# key -> the values it may take (a list-valued key: each of its items)
CHOICES: dict[str, tuple] = {"entity": ENTITIES, "accelerator": ACCELERATORS, "augmentations": AUGMENTATION_NAMES,
                             "forecaster_losses": FORECASTER_LOSSES, "wrmsse_weights": ("units", "revenue"),
                             "executor": EXECUTORS}
SEED_MAX = 2**32 - 1  # numpy's legacy seeding and Lightning's seed_everything take [0, 2**32 - 1]
FRACTIONS = ("train_fraction", "val_fraction", "test_fraction")


class ParamsError(ValueError):
    """A parameter problem, with a message naming the parameter, where it came from, and the fix."""


class Profile(dict):
    """A profile's parameters, remembering its name and the file they came from (for error messages)."""

    def __init__(self, data: dict, name: str, source: str):
        super().__init__(data)
        self.name = name
        self.source = source


# --------------------------------------------------------------------------------------------------- notebooks
def notebooks_dir() -> Path:
    return paths.project_root() / "notebooks"


def stage_number(stage: int | str) -> int:
    """1..5 from 2, "02", "2" or "02_train_gan"."""
    if isinstance(stage, int) and stage in paths.STAGES:
        return stage
    text = str(stage).strip()
    for number, name in paths.STAGES.items():
        if text in (name, str(number), f"{number:02d}"):
            return number
    raise ParamsError(f"unknown stage {stage!r}: use one of " + ", ".join(
        f"{n:02d} ({name})" for n, name in paths.STAGES.items()))


def notebook_parameters(stage: int | str, notebooks: str | Path | None = None) -> dict[str, Any]:
    """The names and default values of one notebook's `parameters` cell, parsed (never executed) with `ast`.

    Args:
        stage: stage number or name.
        notebooks: folder of the percent `.py` sources (default `<root>/notebooks`).

    Returns:
        Mapping of parameter name to its default literal, in cell order.

    Raises:
        ParamsError: the notebook is missing, has no `parameters` cell, or the cell holds more than literals.
    """
    number = stage_number(stage)
    source = Path(notebooks or notebooks_dir()) / f"{paths.STAGES[number]}.py"
    if not source.is_file():
        raise ParamsError(f"notebook source {source} not found: stage {number:02d}'s parameters are declared in "
                          f"its `# %% tags=[\"parameters\"]` cell")
    lines = source.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if PARAMETERS_HEADER.match(line)), None)
    if start is None:
        raise ParamsError(f"{source} has no parameters cell: add a cell headed `# %% tags=[\"parameters\"]`")
    end = next((i for i in range(start + 1, len(lines)) if CELL_HEADER.match(lines[i])), len(lines))
    cell = "\n".join(lines[start + 1:end])
    try:
        tree = ast.parse(cell)
    except SyntaxError as error:
        raise ParamsError(f"{source}: the parameters cell does not parse ({error.msg}, cell line {error.lineno})"
                          ) from error
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a bare string used as a note
        target = (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1
                  else node.target if isinstance(node, ast.AnnAssign) else None)
        if not isinstance(target, ast.Name) or node.value is None:
            raise ParamsError(f"{source}, parameters cell line {node.lineno}: only `name = literal` lines belong "
                              f"there (papermill overrides them); move other code to the next cell")
        try:
            found[target.id] = ast.literal_eval(node.value)
        except ValueError as error:
            raise ParamsError(f"{source}, parameters cell line {node.lineno}: `{target.id}` must be a plain "
                              f"literal (number, string, bool, list), not an expression") from error
    return found


def declared_parameters(notebooks: str | Path | None = None) -> dict[int, dict[str, Any]]:
    """`notebook_parameters` of every stage, by stage number."""
    return {number: notebook_parameters(number, notebooks) for number in paths.STAGES}


# ----------------------------------------------------------------------------------------------------- profiles
def profiles_dir() -> Path:
    return paths.project_root() / "params"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def profile_file_problem(path: Path) -> str | None:
    """Why `path` cannot be a profile file (`yamlfile.file_problem`), naming the profiles there are; else None."""
    problem = yamlfile.file_problem(Path(path))
    if problem and Path(path).is_dir():
        problem += f", or a profile name ({', '.join(available_profiles())})"
    return problem


def profile_path(name_or_path: str | Path) -> Path:
    """`params/<name>.yaml` for a profile name, else the given file path.

    Raises:
        ParamsError: no such profile or file, or the path is a folder, a broken link or not a file.
    """
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or os.path.lexists(text):
        path = Path(text).expanduser()
    else:
        path = profiles_dir() / f"{text}.yaml"
    problem = profile_file_problem(path)
    if problem:
        raise ParamsError(problem)
    if not path.is_file():
        raise ParamsError(f"params profile {text!r} not found ({path}). Available profiles: "
                          f"{', '.join(available_profiles()) or '(none in ' + str(profiles_dir()) + ')'}; "
                          f"or pass the path of a YAML file")
    return path


def load_profile(name_or_path: str | Path) -> Profile:
    """Read a profile (a name in `params/` or a YAML path) into a `Profile`; not yet validated.

    Raises:
        ParamsError: the file is missing, a folder, unreadable, not UTF-8, not YAML, not a mapping, repeats a
            key or uses an alias.
    """
    import yaml

    path = profile_path(name_or_path)
    try:
        data = yaml.load(yamlfile.read_text(path), Loader=yamlfile.unique_key_loader(path)) or {}
    except yamlfile.YamlFileError as error:
        raise ParamsError(str(error)) from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {bounded(' '.join(str(error).split()), 300)}") from error
    if not isinstance(data, dict):
        raise ParamsError(f"{path} must be a mapping of parameter names to values, not {type(data).__name__}")
    name = path.stem
    return Profile(data, name=name, source=str(path))


# --------------------------------------------------------------------------------------------------- validation
def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list"}.get(type(value),
                                                                                      type(value).__name__)


def _type_ok(key: str, value: Any, default: Any) -> bool:
    allowed = EXTRA_TYPES.get(key)
    if allowed is not None:
        return isinstance(value, allowed) and not isinstance(value, bool)
    if isinstance(default, bool) or isinstance(value, bool):
        # bool is an int subclass in Python; True for a batch size (or 1 for a flag) is a mistake, not a value.
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))  # `lr: 1` means 1.0
    if isinstance(default, (list, tuple)):
        if not isinstance(value, list):
            return False
        kinds = {type(item) for item in default}
        if kinds and kinds <= {int, float}:
            # a float list (ratios) takes ints too; an int list (channels) takes ints only
            allowed = (int, float) if float in kinds else (int,)
            return all(isinstance(v, allowed) and not isinstance(v, bool) for v in value)
        if kinds == {str}:
            return all(isinstance(v, str) for v in value)
        return True
    return isinstance(value, type(default))


def _check_value(key: str, value: Any, fail) -> None:
    """Impossible values, by key. `fail(key, problem, fix)` raises."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and key in MIN_ONE and value < 1:
        fail(key, f"is {value}", "use a value of at least 1")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        fail(key, f"is {value}", "use 0 (meaning all/none, where the notebook says so) or a positive number")
    if key.endswith("batch_size") and isinstance(value, int) and value < 1:
        fail(key, f"is {value}", "use a batch size of at least 1")
    if key.startswith("lr_") and isinstance(value, (int, float)) and not value > 0:
        fail(key, f"is {value}", "a learning rate must be > 0 (e.g. 1e-4)")
    if isinstance(value, float) and not math.isfinite(value):
        fail(key, f"is {value}", "use a finite number")
    if key.endswith("_share") and isinstance(value, (int, float)) and not 0 <= value <= 1:
        fail(key, f"is {value}", "a share lies between 0 and 1, e.g. 0.01")
    if key in FRACTIONS and not 0 < value < 1:
        fail(key, f"is {value}", "each split fraction must lie strictly between 0 and 1")
    if key == "ratios":
        bad = [r for r in value if r < 0]
        if bad:
            fail(key, f"holds the negative ratio {bad[0]}",
                 "a ratio is synthetic windows per real window: use values >= 0, e.g. [0.5, 1.0, 5.0]")
        if not value:
            fail(key, "is empty", "list at least one ratio, e.g. [1.0]")
    if key == "critic_channels" and (not value or any(c < 1 for c in value)):
        fail(key, f"is {value}", "list positive channel counts, e.g. [64, 128, 256]")
    if key == "gp_lambda" and value < 0:
        fail(key, f"is {value}", "use a penalty weight >= 0 (10.0 in WGAN-GP)")
    if key == "run" and (not value or "/" in value or value in (".", "..")):
        fail(key, f"is {value!r}", "use a plain folder name (letters, digits, - or _)")
    _check_range_and_choice(key, value, fail)


def _check_range_and_choice(key: str, value: Any, fail) -> None:
    """Values that pass the type check and would fail late: non-finite list items, seeds numpy refuses, names
    outside a closed set."""
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        bad = [v for v in numbers if not math.isfinite(v)]
        if bad:
            fail(key, f"holds {bad[0]}", "use finite numbers only")
        if any(v < 0 for v in numbers):
            fail(key, f"holds the negative value {min(numbers)}", "use values >= 0")
        if key.endswith("_lrs") and any(v <= 0 for v in numbers):
            fail(key, f"holds {min(numbers)}", "a learning rate must be > 0 (e.g. 1e-3)")
    if (key == "seed" or key.endswith("_seed")) and isinstance(value, int) and not 0 <= value <= SEED_MAX:
        fail(key, f"is {value}, outside numpy's seed range [0, {SEED_MAX}]", "use a seed between 0 and 2**32 - 1")
    if key == "devices":
        _check_devices(value, fail)
    allowed = CHOICES.get(key) or _owned_choices(key, value)
    if allowed is not None:
        unknown = [v for v in (value if isinstance(value, list) else [value]) if v not in allowed]
        if unknown:
            hint = " (TPU, MPS and other accelerators are not supported by this training code)" \
                if key == "accelerator" else " (or an empty list)" if isinstance(value, list) else ""
            fail(key, f"{'holds' if isinstance(value, list) else 'is'} the unknown value {unknown[0]!r}",
                 f"use {'names from' if isinstance(value, list) else 'one of'} "
                 f"{', '.join(repr(a) for a in allowed)}{hint}")


def _owned_choices(key: str, value: Any) -> tuple | None:
    """Closed sets whose owners are higher modules or libraries, read from them (imported only when the key holds a
    value to check): `gan_design` from `salesgan_utils.gan.DESIGNS` ("" = the default design), `strategy` from
    Lightning's registry."""
    if key == "gan_design" and value:
        from .gan import DESIGNS

        return ("", *DESIGNS)
    if key == "strategy" and value != "auto":
        from pytorch_lightning.strategies import StrategyRegistry

        return ("auto", *StrategyRegistry.available_strategies())
    return None


def _check_devices(value: Any, fail) -> None:
    """Lightning's `devices`: "auto", a count, a list of distinct device indices, or "0,1"."""
    if isinstance(value, str) and value != "auto" and not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*,?\s*", value):
        fail("devices", f"is {bounded(value)!r}", 'use "auto", a device count such as 2, or a list of device '
                                                  "indices such as [0, 1]")
    if isinstance(value, list):
        bad = [v for v in value if not isinstance(v, int) or isinstance(v, bool) or v < 0]
        if bad or not value or len(set(value)) < len(value):
            fail("devices", f"is {bounded(value)!r}", "list distinct device indices (integers >= 0), e.g. [0, 1]")


def validate(params: dict, source: str | Path | None = None, stage: int | str | None = None,
             notebooks: str | Path | None = None) -> dict:
    """Check names, types and values of `params` against the notebooks' parameters cells.

    Args:
        params: a flat mapping (a profile, or stage parameters); a profile may hold per-stage sections.
        source: where the values came from, for messages (default: a `Profile`'s file, else "<params>").
        stage: when given, keys must be declared by that stage; otherwise by at least one stage.
        notebooks: folder of the notebook sources (default `<root>/notebooks`).

    Returns:
        `params` itself, unchanged, when valid.

    Raises:
        ParamsError: naming the parameter, the source and the fix.
    """
    where = str(source or getattr(params, "source", None) or "<params>")
    declared = declared_parameters(notebooks)

    def fail(key: str, problem: str, fix: str) -> None:
        raise ParamsError(f"parameter `{key}` in {where} {problem}: {fix}")

    def check(key: str, value: Any, scope: dict[str, Any], scope_name: str) -> None:
        if key not in scope:
            close = [k for k in sorted(scope) if k.split("_")[0] == key.split("_")[0]]
            fail(key, f"is not declared by {scope_name}",
                 (f"did you mean {', '.join(close)}? " if close else "") +
                 f"valid keys: {', '.join(sorted(scope))}")
        default = scope[key]
        if not _type_ok(key, value, default):
            hint = ""
            if isinstance(value, str) and isinstance(default, (int, float)) and re.fullmatch(
                    r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value):
                hint = f" (YAML reads {value} as a string: write it with a dot, e.g. 1.0e-4)"
            fail(key, f"has type {_type_name(value)} ({value!r}){hint}",
                 f"use {'an' if _type_name(default)[0] in 'aeiou' else 'a'} {_type_name(default)} like the "
                 f"notebook default {default!r}")
        _check_value(key, value, fail)

    everything: dict[str, Any] = {}
    for number in sorted(declared):
        for key, default in declared[number].items():
            everything.setdefault(key, default)
    flat: dict[str, Any] = {}
    for key, value in params.items():
        section = _section_stage(key)
        if section is not None and stage is None:
            if not isinstance(value, dict):
                fail(key, "is a stage section but not a mapping", "write `key: value` lines under it")
            for sub_key, sub_value in value.items():
                check(sub_key, sub_value, declared[section], f"stage {paths.STAGES[section]}")
            continue
        if stage is not None:
            number = stage_number(stage)
            check(key, value, declared[number], f"stage {paths.STAGES[number]}")
        else:
            check(key, value, everything, "any notebook")
        flat[key] = value
    _check_fractions(flat, fail)
    if isinstance(flat.get("repair_warn_share"), (int, float)) and isinstance(flat.get("repair_error_share"), (
            int, float)) and flat["repair_warn_share"] > flat["repair_error_share"]:
        fail("repair_warn_share", f"is {flat['repair_warn_share']}, above repair_error_share = "
             f"{flat['repair_error_share']}", "a loss must warn before it stops the run: use warn <= error")
    _check_samples_cover_ratios(flat, fail)
    _check_fair_sizes(flat, fail)
    if isinstance(flat.get("seed"), int) and isinstance(flat.get("n_seeds"), int) and \
            flat["seed"] + flat["n_seeds"] - 1 > SEED_MAX:
        fail("seed", f"is {flat['seed']}: stage 04 uses seeds seed .. seed + n_seeds - 1, beyond {SEED_MAX}",
             "use a smaller seed")
    return params


def _check_fractions(flat: dict, fail) -> None:
    if not any(key in flat for key in FRACTIONS):
        return
    defaults = {"train_fraction": 0.7, "val_fraction": 0.15, "test_fraction": 0.15}
    values = {key: flat.get(key, defaults[key]) for key in FRACTIONS}
    total = sum(values.values())
    if abs(total - 1.0) > 1e-9:
        key = next(k for k in reversed(FRACTIONS) if k in flat)
        fail(key, f"makes train + val + test = {' + '.join(str(v) for v in values.values())} = {total:.6g}",
             "the three split fractions must sum to 1")


def _check_samples_cover_ratios(flat: dict, fail) -> None:
    # Stage 04 mixes `ratio` synthetic windows per real window, drawn from the K = n_samples generated per window.
    if "n_samples" in flat and flat.get("ratios"):
        needed = math.ceil(max(flat["ratios"]))
        if flat["n_samples"] < needed:
            fail("n_samples", f"is {flat['n_samples']}, below the largest ratio {max(flat['ratios'])}",
                 f"generate at least {needed} samples per window, or lower `ratios`")


def _check_fair_sizes(flat: dict, fail) -> None:
    fair, sizes = flat.get("fair_gan_sizes"), flat.get("scarcity_sizes")
    if isinstance(fair, list) and isinstance(sizes, list) and set(fair) - set(sizes):
        fail("fair_gan_sizes", f"holds {sorted(set(fair) - set(sizes))}, not among scarcity_sizes {sizes}",
             "list sizes of the scarcity study (a fair generator serves the fits of its size)")
    if isinstance(fair, list) and 0 in fair:
        fail("fair_gan_sizes", "holds 0 (every train window)", "a fit on every window uses stage 02's generator, "
             "which saw exactly its windows: list sizes below the train windows, e.g. [250]")


def _section_stage(key: str) -> int | None:
    try:
        return stage_number(key)
    except ParamsError:
        return None


# --------------------------------------------------------------------------------------------- stage parameters
def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` with the value read as YAML (`3` → int, `[0.5, 1]` → list, `true` → bool)."""
    import yaml

    if "=" not in text:
        raise ParamsError(f"--set {text!r}: write key=value, e.g. --set max_epochs=3")
    key, raw = text.split("=", 1)
    try:
        value = yaml.load(raw, Loader=yamlfile.unique_key_loader(f"--set {bounded(text)}")) if raw.strip() else ""
    except yamlfile.YamlFileError as error:
        raise ParamsError(str(error)) from None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def stage_params(stage: int | str, profile_params: dict, overrides: dict | None = None,
                 notebooks: str | Path | None = None) -> dict:
    """The parameters papermill passes to one stage: the profile's keys that the stage declares, then the stage's
    own section of the profile, then `overrides`; validated.

    Args:
        stage: stage number or name.
        profile_params: a profile (see `load_profile`); it is validated as a whole first.
        overrides: values from the command line (`run`, `data_dir`, `--set`); keys no notebook declares are errors,
            keys only other stages declare are skipped.
        notebooks: folder of the notebook sources (default `<root>/notebooks`).

    Returns:
        A flat dict with only keys the stage declares (`profile` set to the profile's name when declared).
    """
    number = stage_number(stage)
    validate(profile_params, notebooks=notebooks)
    overrides = dict(overrides or {})
    validate(overrides, source="the command line (--set/--run/--data)", notebooks=notebooks)
    declared = notebook_parameters(number, notebooks)
    merged: dict[str, Any] = {}
    if "profile" in declared and isinstance(profile_params, Profile):
        merged["profile"] = profile_params.name
    for key, value in profile_params.items():
        if key in declared:
            merged[key] = value
    for key, value in profile_params.items():
        if _section_stage(key) == number:
            merged.update(value)
    merged.update({key: value for key, value in overrides.items() if key in declared})
    validate(merged, source=getattr(profile_params, "source", None), stage=number, notebooks=notebooks)
    return merged


PIPELINE_ENV = "SALESGAN_PIPELINE"  # set by the pipeline: papermill has injected the complete stage parameters
HAND_RUN = "notebook"  # the run of a notebook run by hand with neither `run` nor `profile` set


def notebook_settings(stage: int | str, namespace: dict, notebooks: str | Path | None = None) -> dict:
    """The stage's parameters as a notebook sees them, validated: what its code cells should read.

    Under the pipeline (env SALESGAN_PIPELINE set) papermill has already injected the profile's values and the
    command line's overrides, so the namespace is taken as it is. Run by hand (Jupyter, Kaggle interactive), a
    non-empty `profile` in the parameters cell fills in that profile's values for every parameter still at the
    notebook's default, so that setting `profile = "kaggle"` is enough; a value edited in the cell wins. Inside
    Kaggle with `profile` left empty, the `kaggle` profile is chosen. An empty `run` is the profile's name, as in
    batch (`outputs/<profile>/`), or HAND_RUN without a profile.

    Args:
        stage: stage number or name.
        namespace: the notebook's `globals()` after the parameters cell (and papermill's injected cell).
        notebooks: folder of the notebook sources (default `<root>/notebooks`).

    Returns:
        {parameter: value} for the parameters the stage declares.

    Raises:
        ParamsError: a value is of the wrong type or impossible, or the profile does not exist.
    """
    number = stage_number(stage)
    declared = notebook_parameters(number, notebooks)
    settings = {key: namespace.get(key, default) for key, default in declared.items()}
    source = f"the parameters of notebooks/{paths.STAGES[number]}"
    if not os.environ.get(PIPELINE_ENV) and not settings.get("profile") and paths.is_kaggle():
        settings["profile"] = "kaggle"  # opened by hand in a Kaggle notebook: the GPU profile's settings
    if settings.get("profile") and not os.environ.get(PIPELINE_ENV):
        profile = load_profile(settings["profile"])
        validate(profile, notebooks=notebooks)
        chosen = stage_params(number, profile, notebooks=notebooks)
        for key, value in chosen.items():
            if key not in ("run", "profile") and settings[key] == declared[key]:
                settings[key] = value
        source += f" with profile {profile.source}"
    if not settings.get("run") and not os.environ.get(PIPELINE_ENV):
        # run by hand, the run folder follows the profile as in batch (outputs/<profile>/); the notebooks' own
        # defaults are no profile, so they get a run of their own
        settings["run"] = load_profile(settings["profile"]).name if settings.get("profile") else HAND_RUN
    validate(settings, source=source, stage=number, notebooks=notebooks)
    return settings


def pick(settings: dict, keys) -> dict:
    """The `keys` of `settings`, for passing a group of parameters to one package function (`**pick(...)`).

    Raises:
        KeyError: a key is not among the settings (a name drifted between a notebook and the package).
    """
    missing = [key for key in keys if key not in settings]
    if missing:
        raise KeyError(f"parameters {missing} are not declared by this notebook's parameters cell; "
                       f"declared: {sorted(settings)}")
    return {key: settings[key] for key in keys}


def run_folder(profile_params: dict, run: str) -> Path:
    """`outputs/<run>/` as the notebooks resolve it: the profile's `outputs_dir` when set, else `outputs_root()`."""
    return paths.run_dir(run, profile_params.get("outputs_dir") or None)


# ---------------------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salesgan_utils.params", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    stage = sub.add_parser("stage", help="write one stage's papermill parameters file (YAML)")
    stage.add_argument("--stage", required=True)
    stage.add_argument("--profile", required=True)
    stage.add_argument("--run", help="run name (default: the profile name)")
    stage.add_argument("--data", help="data folder (sets data_dir; 'demo' forces demo data)")
    stage.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    stage.add_argument("--out", required=True)
    check = sub.add_parser("validate", help="validate a profile against the notebooks")
    check.add_argument("profile")
    where = sub.add_parser("run-dir", help="print outputs/<run>/ for a profile and run name")
    where.add_argument("--profile", required=True)
    where.add_argument("--run")
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
        if args.command == "validate":
            validate(profile)
            print(f"{profile.source}: valid ({len(profile)} keys)")
            return 0
        run = args.run or profile.name
        if args.command == "run-dir":
            print(run_folder(profile, run))
            return 0
        overrides = dict(parse_override(item) for item in args.set)
        overrides["run"] = run
        if args.data:
            overrides["data_dir"] = args.data
        chosen = stage_params(args.stage, profile, overrides)
        import yaml

        paths.write_text_atomic(args.out, yaml.safe_dump(chosen, sort_keys=False))
        return 0
    except ParamsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
