"""Tests of salesgan_utils.params: parsing the notebooks' parameters cells, profiles, validation, stage params."""
from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest
import yaml

from salesgan_utils import params, paths

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _parameters_cell(name: str) -> str:
    """The source of the real notebook's parameters cell (read, not copied: a hand copy here drifted)."""
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    (cell,) = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    return cell.source + "\n"


# The real notebooks' parameters cells, written into temporary notebooks below so that parsing and validation are
# tested on the cells as they are, with code before and after them that is not a parameter.
SPEC_CELLS = {name: _parameters_cell(name) for name in paths.STAGES.values()}


def write_notebooks(folder: Path, body: dict[str, str] | None = None) -> Path:
    """Percent-format notebook sources with the spec's parameters cells (and optional code after them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, cell in SPEC_CELLS.items():
        extra = (body or {}).get(name, "print('ok')\n")
        (folder / f"{name}.py").write_text(
            f"# %% [markdown]\n# # {name}\n\n# %%\nimport os\n\n# %% tags=[\"parameters\"]\n{cell}\n# %%\n{extra}",
            encoding="utf-8")
    return folder


@pytest.fixture()
def notebooks(tmp_path: Path) -> Path:
    return write_notebooks(tmp_path / "notebooks")


def write_profile(tmp_path: Path, data: dict, name: str = "custom") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------------ parsing
def test_notebook_parameters_parses_the_cell_in_order(notebooks: Path) -> None:
    # an independent reading of the same cell: every `name = literal` line, in order, through ast
    for stage, name in paths.STAGES.items():
        expected = {}
        for node in ast.parse(SPEC_CELLS[name]).body:
            expected[node.targets[0].id] = ast.literal_eval(node.value)
        found = params.notebook_parameters(stage, notebooks)
        assert list(found) == list(expected) and found == expected
        assert list(found)[:4] == ["run", "outputs_dir", "seed", "profile"]
    assert set(params.notebook_parameters("05", notebooks)) == {"run", "outputs_dir", "seed", "profile"}


def test_the_cell_ends_at_the_next_cell_header(notebooks: Path) -> None:
    # `import os` sits in the cell before; `print('ok')` in the cell after: neither is a parameter
    assert "os" not in params.notebook_parameters(3, notebooks)


@pytest.mark.parametrize("cell, message", [
    ("x = 1 + len('a')\n", "plain literal"),
    ("import math\n", "only `name = literal`"),
    ("x = (\n", "does not parse"),
])
def test_a_parameters_cell_with_code_is_an_error_naming_the_notebook(tmp_path: Path, cell: str, message: str) -> None:
    folder = write_notebooks(tmp_path / "nb")
    (folder / "05_report.py").write_text(f"# %% tags=[\"parameters\"]\n{cell}", encoding="utf-8")
    with pytest.raises(params.ParamsError, match=message) as error:
        params.notebook_parameters(5, folder)
    assert "05_report.py" in str(error.value)


def test_missing_notebook_and_missing_cell_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(params.ParamsError, match="01_eda_preprocess.py not found"):
        params.notebook_parameters(1, tmp_path)
    (tmp_path / "01_eda_preprocess.py").write_text("# %%\nx = 1\n", encoding="utf-8")
    with pytest.raises(params.ParamsError, match="no parameters cell"):
        params.notebook_parameters(1, tmp_path)


def test_stage_number_accepts_numbers_and_names() -> None:
    assert [params.stage_number(s) for s in (3, "3", "03", "03_generate_samples")] == [3, 3, 3, 3]
    with pytest.raises(params.ParamsError, match="unknown stage"):
        params.stage_number("06")


# ----------------------------------------------------------------------------------------------------- profiles
@pytest.mark.parametrize("profile", ["smoke", "quick", "full", "kaggle"])
def test_every_profile_validates_against_the_real_notebooks(profile: str) -> None:
    # against notebooks/*.py themselves: a copy of their parameters cells here would drift from them
    loaded = params.load_profile(profile)
    assert loaded.name == profile and loaded.source.endswith(f"params/{profile}.yaml")
    params.validate(loaded)
    for stage in paths.STAGES:
        chosen = params.stage_params(stage, loaded, {"run": "r"})
        assert chosen["profile"] == profile and chosen["run"] == "r"


def test_smoke_profile_is_small(notebooks: Path) -> None:
    smoke = params.load_profile("smoke")
    assert smoke["accelerator"] == "cpu" and smoke["max_epochs"] <= 3 and smoke["n_samples"] >= max(smoke["ratios"])


def test_an_unknown_profile_lists_the_available_ones() -> None:
    with pytest.raises(params.ParamsError) as error:
        params.load_profile("nope")
    assert "smoke" in str(error.value) and "quick" in str(error.value)


def test_a_profile_path_loads(tmp_path: Path, notebooks: Path) -> None:
    path = write_profile(tmp_path, {"max_epochs": 1})
    loaded = params.load_profile(str(path))
    assert loaded.name == "custom" and loaded.source == str(path)
    assert params.stage_params(2, loaded, {"run": "x"}, notebooks=notebooks) == {
        "profile": "custom", "max_epochs": 1, "run": "x"}


# --------------------------------------------------------------------------------------------------- bad params
# One case per params row of the bad-input table (issue 8): (profile content, the parameter the message names).
BAD_PARAMS = {
    "unknown key": ({"max_epoch": 3}, "max_epoch"),
    "wrong type": ({"batch_size": "big"}, "batch_size"),
    "negative ratio": ({"ratios": [0.5, -1.0]}, "ratios"),
    "horizon 0": ({"horizon": 0}, "horizon"),
    "fractions not summing to 1": ({"train_fraction": 0.8, "val_fraction": 0.15, "test_fraction": 0.15},
                                   "test_fraction"),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_name_the_parameter_and_the_file(case: str, tmp_path: Path, notebooks: Path) -> None:
    content, key = BAD_PARAMS[case]
    path = write_profile(tmp_path, content)
    with pytest.raises(params.ParamsError) as error:
        params.validate(params.load_profile(path), notebooks=notebooks)
    message = str(error.value)
    assert f"`{key}`" in message and str(path) in message


def test_unknown_key_names_the_valid_keys(tmp_path: Path, notebooks: Path) -> None:
    with pytest.raises(params.ParamsError) as error:
        params.validate({"max_epoch": 3}, source="x.yaml", notebooks=notebooks)
    assert "did you mean max_epochs" in str(error.value) and "valid keys:" in str(error.value)
    assert "n_seeds" in str(error.value)


@pytest.mark.parametrize("content, key", [
    ({"history_days": 0}, "history_days"),
    ({"n_seeds": 0}, "n_seeds"),
    ({"n_samples": 0}, "n_samples"),
    ({"batch_size": 0}, "batch_size"),
    ({"forecaster_batch_size": -5}, "forecaster_batch_size"),
    ({"lr_g": 0.0}, "lr_g"),
    ({"lr_forecaster": -1e-3}, "lr_forecaster"),
    ({"entity": "seller"}, "entity"),
    ({"train_fraction": 1.2}, "train_fraction"),
    ({"top_n": -1}, "top_n"),
    ({"critic_channels": [8, 0]}, "critic_channels"),
    ({"n_samples": 2, "ratios": [0.5, 5.0]}, "n_samples"),
    ({"resume": 1}, "resume"),                # an int is not a bool
    ({"max_epochs": True}, "max_epochs"),     # nor a bool an int
    ({"max_epochs": 2.5}, "max_epochs"),      # nor a float an int
    ({"ratios": 1.0}, "ratios"),              # a list stays a list
    ({"critic_channels": [8.0, 16.0]}, "critic_channels"),
    ({"augmentations": ["jitter", 3]}, "augmentations"),
    ({"run": "a/b"}, "run"),
])
def test_impossible_values_and_types_are_errors(content: dict, key: str, notebooks: Path) -> None:
    with pytest.raises(params.ParamsError, match=f"`{key}` in my.yaml"):
        params.validate(content, source="my.yaml", notebooks=notebooks)


@pytest.mark.parametrize("content", [
    {"lr_g": 1},                       # int accepted for float
    {"ratios": [1, 2]},                # ints in a float list
    {"ratios": [0.0, 1.0]},            # ratio 0 (real only) is possible
    {"devices": 2}, {"devices": [0, 1]}, {"devices": "auto"},
    {"train_fraction": 0.6, "val_fraction": 0.2, "test_fraction": 0.2},
    {"02_train_gan": {"gan_train_windows": 100}, "04": {"max_train_windows": 50}},
])
def test_valid_values_pass(content: dict, notebooks: Path) -> None:
    assert params.validate(content, source="ok.yaml", notebooks=notebooks) == content


def test_yaml_exponent_without_dot_gets_a_hint(tmp_path: Path, notebooks: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("lr_g: 1e-4\n", encoding="utf-8")  # YAML 1.1 reads this as a string
    with pytest.raises(params.ParamsError, match="with a dot"):
        params.validate(params.load_profile(path), notebooks=notebooks)


def test_a_stage_section_key_must_belong_to_that_stage(notebooks: Path) -> None:
    with pytest.raises(params.ParamsError, match="`horizon` in s.yaml is not declared by stage 02_train_gan"):
        params.validate({"02_train_gan": {"horizon": 7}}, source="s.yaml", notebooks=notebooks)


# ------------------------------------------------------------------------------------------------ stage params
def test_stage_params_keep_only_the_stage_keys_and_apply_sections_then_overrides(tmp_path: Path,
                                                                                  notebooks: Path) -> None:
    profile = params.load_profile(write_profile(tmp_path, {
        "seed": 3, "horizon": 7, "max_train_windows": 10, "04_augmentation_benchmark": {"max_train_windows": 20},
        "03": {"seed": 5}}))
    overrides = {"run": "r1", "data_dir": "/data", "n_seeds": 2}
    assert params.stage_params(1, profile, overrides, notebooks) == {
        "profile": "custom", "seed": 3, "horizon": 7, "run": "r1", "data_dir": "/data"}
    two = params.stage_params(2, profile, overrides, notebooks)
    assert two["seed"] == 3 and "max_train_windows" not in two  # stage 02 caps its windows with gan_train_windows
    assert params.stage_params(3, profile, overrides, notebooks)["seed"] == 5
    four = params.stage_params(4, profile, overrides, notebooks)
    assert four["max_train_windows"] == 20 and four["n_seeds"] == 2 and "horizon" not in four


def test_a_bad_override_names_the_command_line(notebooks: Path) -> None:
    with pytest.raises(params.ParamsError, match="`max_epochs` in the command line"):
        params.stage_params(2, params.load_profile("smoke"), {"max_epochs": -1}, notebooks)


@pytest.mark.parametrize("text, expected", [
    ("max_epochs=3", ("max_epochs", 3)), ("ratios=[0.5, 1]", ("ratios", [0.5, 1])),
    ("resume=false", ("resume", False)), ("data_dir=", ("data_dir", "")), ("run=a=b", ("run", "a=b")),
])
def test_parse_override(text: str, expected: tuple) -> None:
    assert params.parse_override(text) == expected


def test_cli_writes_the_stage_file_and_reports_errors(tmp_path: Path, notebooks: Path, monkeypatch,
                                                      capsys) -> None:
    monkeypatch.setattr(params, "notebooks_dir", lambda: notebooks)
    out = tmp_path / "p" / "02.yaml"
    assert params.main(["stage", "--stage", "02", "--profile", "smoke", "--set", "max_epochs=1",
                        "--out", str(out)]) == 0
    written = yaml.safe_load(out.read_text())
    assert written["run"] == "smoke" and written["max_epochs"] == 1 and written["profile"] == "smoke"
    assert params.main(["stage", "--stage", "1", "--profile", "smoke", "--data", "demo", "--run", "x",
                        "--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["data_dir"] == "demo"
    assert params.main(["validate", "nope"]) == 2
    assert "Available profiles" in capsys.readouterr().err
    assert params.main(["run-dir", "--profile", "smoke", "--run", "abc"]) == 0
    assert capsys.readouterr().out.strip().endswith("/abc")


# ------------------------------------------------------------------------------------------- notebook settings
def test_notebook_settings_under_the_pipeline_take_the_namespace_as_it_is(notebooks: Path, monkeypatch) -> None:
    monkeypatch.setenv(params.PIPELINE_ENV, "1")
    namespace = {"run": "r", "profile": "smoke", "max_epochs": 7, "unrelated": object()}
    settings = params.notebook_settings(2, namespace, notebooks)
    assert settings["max_epochs"] == 7 and settings["batch_size"] == 128  # notebook default, no profile overlay
    assert "unrelated" not in settings and set(settings) == set(params.notebook_parameters(2, notebooks))


def test_notebook_settings_by_hand_fill_in_the_profile_but_keep_edits(notebooks: Path, monkeypatch) -> None:
    monkeypatch.delenv(params.PIPELINE_ENV, raising=False)
    namespace = dict(params.notebook_parameters(2, notebooks), profile="smoke", max_epochs=1, run="mine")
    settings = params.notebook_settings(2, namespace, notebooks)
    assert settings["batch_size"] == 64 and settings["noise_dim"] == 16  # from params/smoke.yaml
    assert settings["max_epochs"] == 1 and settings["run"] == "mine"     # edited in the cell: kept


def test_notebook_settings_validate(notebooks: Path, monkeypatch) -> None:
    monkeypatch.setenv(params.PIPELINE_ENV, "1")
    with pytest.raises(params.ParamsError, match="`horizon` in the parameters of notebooks/01_eda_preprocess"):
        params.notebook_settings(1, {"horizon": 0, "run": "r"}, notebooks)


def test_pick() -> None:
    assert params.pick({"a": 1, "b": 2, "c": 3}, ("a", "c")) == {"a": 1, "c": 3}
    with pytest.raises(KeyError, match="'z'"):
        params.pick({"a": 1}, ("a", "z"))


def test_closed_value_sets_match_their_owners() -> None:
    from salesgan_utils import augment, executor, forecaster

    assert params.AUGMENTATION_NAMES == tuple(augment.AUGMENTATIONS)
    assert params.FORECASTER_LOSSES == tuple(forecaster.LOSSES)
    assert params.EXECUTORS == executor.EXECUTORS


def test_a_notebook_run_by_hand_writes_to_its_profiles_run_folder(monkeypatch) -> None:
    monkeypatch.delenv(params.PIPELINE_ENV, raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.setattr(params.paths, "is_kaggle", lambda: False)
    defaults = params.notebook_parameters(5)
    assert defaults["run"] == ""
    assert params.notebook_settings(5, {**defaults, "profile": "quick"})["run"] == "quick"
    assert params.notebook_settings(5, dict(defaults))["run"] == params.HAND_RUN
    assert params.notebook_settings(5, {**defaults, "profile": "quick", "run": "mine"})["run"] == "mine"
