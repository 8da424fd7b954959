"""Every row of docs/bad_inputs.md: a bad input gives an error naming the file/column/parameter and the fix, or a
documented repair whose count appears in the data report.

One parametrised test over all rows. Each case builds its bad input from a tiny hand-made Olist folder (the rules of
`salesgan_utils.data`), a params file, a checkpoint or a stage folder, runs the package function a notebook calls,
and returns either the exception raised or the data report table the notebook shows.
"""
from __future__ import annotations

import errno
import gzip
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import data, olist, params, paths, preprocess
from salesgan_utils.paths import DataSource

# Small enough to reason about by hand: 3 sale orders in January 2017 (31 days: too short for a 30 -> 7 window),
# one canceled order, two products. Every case below breaks one thing about it.
ORDERS = [("o1", "delivered", "2017-01-01 10:00:00"), ("o2", "shipped", "2017-01-02 11:00:00"),
          ("o3", "delivered", "2017-01-20 09:00:00"), ("o4", "canceled", "2017-01-05 10:00:00")]
ITEMS = [("o1", 1, "p1", "10.0"), ("o1", 2, "p2", "5.0"), ("o2", 1, "p1", "10.0"), ("o3", 1, "p2", "7.5"),
         ("o4", 1, "p1", "10.0")]
PRODUCTS = [("p1", "beleza_saude"), ("p2", "perfumaria")]
TRANSLATION = [("beleza_saude", "health_beauty"), ("perfumaria", "perfumery")]
REVIEWS = [("r1", "o1", 5, "2017-01-05 00:00:00")]
FILES = {"orders": "olist_orders_dataset", "items": "olist_order_items_dataset", "products": "olist_products_dataset",
         "translation": "product_category_name_translation", "reviews": "olist_order_reviews_dataset"}


def frames() -> dict[str, pd.DataFrame]:
    return {"orders": pd.DataFrame(ORDERS, columns=olist.TABLES["orders"][1]),
            "items": pd.DataFrame(ITEMS, columns=olist.TABLES["items"][1]),
            "products": pd.DataFrame(PRODUCTS, columns=olist.TABLES["products"][1]),
            "translation": pd.DataFrame(TRANSLATION, columns=olist.TABLES["translation"][1]),
            "reviews": pd.DataFrame(REVIEWS, columns=olist.TABLES["reviews"][1])}


def write(folder: Path, tables: dict[str, pd.DataFrame] | None = None, *, gz: bool = False,
          bom_crlf: bool = False) -> Path:
    """Write the tables as Olist CSVs (optionally gzipped, or with a BOM and CRLF line ends, as Excel saves)."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, frame in (frames() if tables is None else tables).items():
        text = frame.to_csv(index=False, lineterminator="\r\n" if bom_crlf else "\n")
        raw = (("\ufeff" if bom_crlf else "") + text).encode("utf-8")
        target = folder / f"{FILES[key]}.csv{'.gz' if gz else ''}"
        target.write_bytes(gzip.compress(raw) if gz else raw)
    return folder


def changed(key: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> dict[str, pd.DataFrame]:
    tables = frames()
    tables[key] = edit(tables[key].copy())
    return tables


def load(folder: Path) -> olist.OlistTables:
    return olist.load_tables(folder)


def panel(folder: Path, **filters) -> data.Panel:
    return data.build_panel(olist.load_tables(folder), **filters)


# ------------------------------------------------------------------------------------------------------- the rows
# Each returns what the user sees: the exception, or the data report table (`data.report_table`) of a repair.
def no_olist_tables(tmp: Path):
    (tmp / "my_exports").mkdir()
    (tmp / "my_exports" / "sales.csv").write_text("a,b\n1,2\n")
    return preprocess.resolve_data(str(tmp / "my_exports"), tmp / "run")  # never demo data instead


def table_missing(tmp: Path):
    folder = write(tmp / "olist")
    (folder / "olist_order_items_dataset.csv").unlink()
    return load(folder)


def column_missing(tmp: Path):
    return load(write(tmp / "olist", changed("items", lambda f: f.drop(columns="price"))))


def column_renamed(tmp: Path):
    return load(write(tmp / "olist", changed("orders", lambda f: f.rename(
        columns={"order_purchase_timestamp": "order_purchase_time"}))))


def header_only(tmp: Path):
    return load(write(tmp / "olist", changed("products", lambda f: f.iloc[:0])))


def zero_bytes(tmp: Path):
    folder = write(tmp / "olist")
    (folder / "olist_orders_dataset.csv").write_bytes(b"")
    return load(folder)


def bad_timestamps(tmp: Path):
    def edit(f):
        f.loc[1, "order_purchase_timestamp"] = "02/01/2017 11h"
        f.loc[2, "order_purchase_timestamp"] = None
        return f

    return load(write(tmp / "olist", changed("orders", edit))).report  # one sale day left: too short for a panel


def all_canceled(tmp: Path):
    return panel(write(tmp / "olist", changed("orders", lambda f: f.assign(order_status="canceled"))))


def too_few_days(tmp: Path):
    source = DataSource(write(tmp / "olist"), "olist", "test")
    return preprocess.build(source, entity="product", train_fraction=0.7, val_fraction=0.15, test_fraction=0.15,
                            min_train_units=1, top_n=0, history_days=30, horizon=7, stride=1)


def no_entity_left(tmp: Path):
    return panel(write(tmp / "olist"), min_train_units=50)


def bad_prices(tmp: Path):
    def edit(f):
        f.loc[0, "price"] = ""
        f.loc[2, "price"] = "-10.0"
        return f

    return panel(write(tmp / "olist", changed("items", edit))).report


def duplicated_rows(tmp: Path):
    return panel(write(tmp / "olist", changed("items", lambda f: pd.concat([f, f.iloc[[0, 0]]])))).report


def bom_and_crlf(tmp: Path):
    tables = load(write(tmp / "olist", bom_crlf=True))
    plain = load(write(tmp / "plain"))
    for key in ("orders", "items", "products", "translation", "reviews"):  # read exactly as the plain files
        pd.testing.assert_frame_equal(getattr(tables, key), getattr(plain, key))
    return tables.report


def truncated_gz(tmp: Path):
    folder = write(tmp / "olist", gz=True)
    orders = folder / "olist_orders_dataset.csv.gz"
    orders.write_bytes(orders.read_bytes()[: orders.stat().st_size // 2])  # a download cut half-way
    return load(folder)


# Issue #14: ambiguous or implausible input never passes silently.
def csv_beside_csv_gz(tmp: Path):
    folder = write(tmp / "olist", gz=True)
    half = changed("items", lambda f: f.iloc[:2])["items"]  # a stale half copy beside the full download
    half.to_csv(folder / "olist_order_items_dataset.csv", index=False)
    return load(folder)


def two_datasets(tmp: Path):
    write(tmp / "downloads" / "olist_2018")
    write(tmp / "downloads" / "olist_old")
    return preprocess.resolve_data(str(tmp / "downloads"), tmp / "run")


def long_orders(n_days: int = 100) -> dict[str, pd.DataFrame]:
    """One delivered order a day from 2017-01-01 (one unit of p1 or p2 at 10.0): long enough for quantiles."""
    days = pd.date_range("2017-01-01", periods=n_days)
    tables = frames()
    tables["orders"] = pd.DataFrame({"order_id": [f"o{i}" for i in range(n_days)], "order_status": "delivered",
                                     "order_purchase_timestamp": days.strftime("%Y-%m-%d 10:00:00")})
    tables["items"] = pd.DataFrame({"order_id": tables["orders"]["order_id"], "order_item_id": 1,
                                    "product_id": ["p1", "p2"] * (n_days // 2), "price": "10.0"})
    return tables


def typo_years(tmp: Path):
    tables = long_orders()
    tables["orders"].loc[3, "order_purchase_timestamp"] = "2071-01-04 10:00:00"  # 2017 typed as 2071
    tables["orders"].loc[7, "order_purchase_timestamp"] = "2081-01-08 10:00:00"
    with pytest.warns(UserWarning, match="IMPLAUSIBLE DATES: 2 of 100 orders"):
        built = panel(write(tmp / "olist", tables))
    assert len(built.dates) == 100 and str(built.dates[-1]) == "2017-04-10", "the timeline was stretched"
    return built.report


def price_text(tmp: Path, prices: list[str], values: list[float]) -> dict:
    """100 items priced by turns as `prices`, whose revenue must add up as `values` would."""
    tables = long_orders()
    tables["items"]["price"] = (prices * 100)[:100]
    built = panel(write(tmp / "olist", tables))
    assert built.revenue.sum() == pytest.approx(sum((values * 100)[:100]), rel=1e-6)
    return built.report


def decimal_comma_prices(tmp: Path):
    return price_text(tmp, ["58,9", "10,50"], [58.9, 10.5])


def currency_prices(tmp: Path):
    return price_text(tmp, ["R$ 58.90", "R$10.50"], [58.9, 10.5])


def delimited(separator: str) -> Callable[[Path], object]:
    def case(tmp: Path):
        folder = write(tmp / "olist")
        frames()["orders"].to_csv(folder / "olist_orders_dataset.csv", index=False, sep=separator)
        return load(folder)

    return case


def timestamps_all_unparsable(tmp: Path):
    return load(write(tmp / "olist", changed("orders", lambda f: f.assign(
        order_purchase_timestamp=["01/01/2017 10:00", "02/01/2017 11:00", "20/01/2017 09:00", "05/01/2017 10:00"]))))


def latin1_file(tmp: Path):
    folder = write(tmp / "olist")
    products = changed("products", lambda f: f.assign(product_category_name=["beleza_saúde", "perfumaria"]))
    (folder / "olist_products_dataset.csv").write_bytes(
        products["products"].to_csv(index=False).encode("latin-1"))  # as Excel saves it on Windows
    return load(folder)


def utf16_file(tmp: Path):
    folder = write(tmp / "olist")
    (folder / "olist_products_dataset.csv").write_bytes(frames()["products"].to_csv(index=False).encode("utf-16"))
    return load(folder)  # Excel's "Unicode text"


def spaced_thousands_prices(tmp: Path):
    return price_text(tmp, ["1 058,90", "10,50"], [1058.9, 10.5])


def review_typo_years(tmp: Path):
    tables = long_orders()
    dates = [f"2017-01-{day + 5:02d} 00:00:00" for day in range(8)] + ["1970-01-01 00:00:00", "2081-01-07 00:00:00"]
    tables["reviews"] = pd.DataFrame({"review_id": [f"r{i}" for i in range(10)],
                                      "order_id": [f"o{i}" for i in range(10)], "review_score": 4,
                                      "review_creation_date": dates})
    return panel(write(tmp / "olist", tables)).report


def history_longer_than_data(tmp: Path):
    source = DataSource(write(tmp / "olist", long_orders()), "olist", "test")
    return preprocess.build(source, entity="product", train_fraction=0.7, val_fraction=0.15, test_fraction=0.15,
                            min_train_units=1, top_n=0, history_days=400, horizon=7, stride=1)


# Issue #25: provenance and loud repairs. Files judged by their bytes, keys compared as keys, losses loud.
def iso_timestamps(tmp: Path):
    tables = long_orders()
    stamps = tables["orders"]["order_purchase_timestamp"]
    tables["orders"]["order_purchase_timestamp"] = [  # four ISO 8601 spellings in turn
        [t.replace(" ", "T"), t.replace(" ", "T") + "Z", t.replace(" ", "T") + ".123-03:00", t][i % 4]
        for i, t in enumerate(stamps)]
    built = panel(write(tmp / "olist", tables))
    plain = panel(write(tmp / "plain", long_orders()))
    assert (built.units == plain.units).all() and list(built.dates) == list(plain.dates), "not read as written"
    return built.report


def padded_keys(tmp: Path):
    # every order_id of the items table with a trailing space: without stripping, no item matches its order
    built = panel(write(tmp / "olist", changed("items", lambda f: f.assign(order_id=f["order_id"] + " "))))
    assert built.units.sum() == 4, "the items did not join their orders"
    return built.report


def nul_tail(tmp: Path):
    folder = write(tmp / "olist", long_orders())
    orders = folder / "olist_orders_dataset.csv"
    content = orders.read_bytes()
    orders.write_bytes(content[: len(content) // 2] + b"\0" * 4096)  # a copy cut short, padded with zeros
    return load(folder)


def conflicting_ids(key: str, column: str, value: str) -> Callable[[Path], object]:
    def case(tmp: Path):
        tables = frames()
        tables[key] = pd.concat([tables[key], tables[key].iloc[[0]].assign(**{column: value})])
        with pytest.warns(UserWarning, match="CONFLICTING DUPLICATES"):
            return load(write(tmp / "olist", tables)).report

    return case


def unknown_best_sellers(tmp: Path):
    # the products table lacks the product of most sold items: dropping them would silently drop the best sellers
    tables = long_orders()
    tables["items"]["product_id"] = ["p9"] * 70 + ["p1"] * 30
    return panel(write(tmp / "olist", tables))


def few_unknown_products(tmp: Path):
    tables = long_orders()
    tables["items"].loc[:4, "product_id"] = "p9"
    with pytest.warns(UserWarning, match=r"PRODUCTS UNKNOWN: 5 of 100 sold items \(5%\)"):
        return panel(write(tmp / "olist", tables)).report


def infinite_prices(tmp: Path):
    tables = long_orders()
    tables["items"].loc[0, "price"] = "inf"
    tables["items"].loc[1, "price"] = "-Infinity"
    tables["items"].loc[2, "price"] = "1e400"
    built = panel(write(tmp / "olist", tables))
    assert np.isfinite(built.revenue).all() and built.revenue.sum() == pytest.approx(970.0)
    return built.report


def review_before_purchase(tmp: Path):
    tables = long_orders()
    tables["reviews"] = pd.DataFrame({"review_id": [f"r{i}" for i in range(10)], "order_id": [
        f"o{i}" for i in range(10)], "review_score": 4, "review_creation_date": [
        f"2017-01-{day + 2:02d} 00:00:00" for day in range(10)]})
    tables["reviews"].loc[9, "review_creation_date"] = "2017-01-02 00:00:00"  # o9 was bought on 2017-01-10
    return panel(write(tmp / "olist", tables)).report


def table_bytes(name: str, make: Callable[[bytes], bytes], suffix: str = ".csv") -> Callable[[Path], object]:
    """The orders table replaced by `make(its plain CSV bytes)` under `olist_orders_dataset<suffix>`."""
    def case(tmp: Path):
        folder = write(tmp / "olist")
        plain = (folder / "olist_orders_dataset.csv").read_bytes()
        (folder / "olist_orders_dataset.csv").unlink()
        (folder / f"olist_orders_dataset{suffix}").write_bytes(make(plain))
        return load(folder)

    return case


def zipped(content: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("olist_orders_dataset.csv", content)
    return buffer.getvalue()


def utf16_without_bom(tmp: Path):
    folder = write(tmp / "olist")
    (folder / "olist_products_dataset.csv").write_bytes(frames()["products"].to_csv(index=False).encode("utf-16-le"))
    return load(folder)


def folder_named_like_a_table(tmp: Path):
    folder = write(tmp / "olist")
    (folder / "olist_order_items_dataset.csv").unlink()
    (folder / "olist_order_items_dataset.csv").mkdir()  # an archive unpacked into a folder of the file's name
    (folder / "olist_order_items_dataset.csv" / "olist_order_items_dataset.csv").write_text("x\n")
    return load(folder)


def broken_link_table(tmp: Path):
    folder = write(tmp / "olist")
    (folder / "olist_order_items_dataset.csv").unlink()
    (folder / "olist_order_items_dataset.csv").symlink_to(tmp / "downloads" / "items.csv")
    return load(folder)


def out_of_memory(tmp: Path, monkeypatch):
    folder = write(tmp / "olist")

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(pd, "read_csv", no_memory)
    return load(folder)


def long_category_name(tmp: Path):
    name = "x" * 1_000_000  # a 1 MB category name (a broken export): not copied whole into any artifact
    tables = long_orders()
    tables["products"] = pd.DataFrame({"product_id": ["p1", "p2"], "product_category_name": [name, "perfumaria"]})
    folder = write(tmp / "olist", tables)
    source = DataSource(folder, "olist", "test")
    _, built, sets = preprocess.build(source, entity="category", train_fraction=0.7, val_fraction=0.15,
                                      test_fraction=0.15, min_train_units=1, top_n=0, history_days=7, horizon=7,
                                      stride=7)
    preprocess.save(tmp / "out", source, built, sets, {})
    assert (tmp / "out" / "metadata.json").stat().st_size < 100_000, "the long name was copied into metadata.json"
    assert max(len(e) for e in built.entity_ids) < 300
    return built.report


def kaggle_root(tmp: Path, monkeypatch, make: Callable[[Path], None]):
    """Discovery under a simulated Kaggle input root that `make` fills; no other source."""
    for var in ("SALESGAN_DATA_DIR", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SALESGAN_KAGGLE_ROOT", str(tmp / "input"))
    monkeypatch.setenv("SALESGAN_ROOT", str(tmp / "repo"))
    (tmp / "input").mkdir()
    make(tmp / "input")
    source = paths.discover_data()
    return {"data_source_kind": source.kind, "data_source_folder": str(source.folder)}


def symlinked_dataset(tmp: Path, monkeypatch):
    def make(root: Path):
        write(tmp / "elsewhere" / "olist")
        (root / "brazilian-ecommerce").symlink_to(tmp / "elsewhere")  # Kaggle's input folders are often links
        (tmp / "elsewhere" / "loop").symlink_to(tmp / "elsewhere")  # and a link loop must not hang discovery

    return kaggle_root(tmp, monkeypatch, make)


def near_miss(kind: str):
    def case(tmp: Path, monkeypatch):
        def make(root: Path):
            (root / "olist").mkdir()
            if kind == "zip":
                (root / "olist" / "brazilian-ecommerce.zip").write_bytes(zipped(b"a,b\n"))
            elif kind == "folder":
                (root / "olist" / "olist_orders_dataset.csv").mkdir()
            else:
                (root / "olist" / "olist_orders_dataset.csv").symlink_to(tmp / "gone.csv")

        return kaggle_root(tmp, monkeypatch, make)

    return case


def params_file(text: str) -> Callable[[Path], object]:
    def case(tmp: Path):
        path = tmp / "my_profile.yaml"
        path.write_text(text)
        return params.validate(params.load_profile(path))

    return case


def profile_bytes(content: bytes) -> Callable[[Path], object]:
    def case(tmp: Path):
        path = tmp / "my_profile.yaml"
        path.write_bytes(content)
        return params.validate(params.load_profile(path))

    return case


def profile_folder(tmp: Path):
    (tmp / "my_profile.yaml").mkdir()  # a folder where the profile should be
    return params.load_profile(tmp / "my_profile.yaml")


def profile_unreadable(tmp: Path, monkeypatch):
    path = tmp / "my_profile.yaml"
    path.write_text("max_epochs: 3\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # as for a file of another user (the tests run as root)
    return params.load_profile(path)


def run_folder_in_the_checkout(tmp: Path, monkeypatch, capsys):
    from salesgan_utils import pipeline

    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    monkeypatch.setattr(pipeline, "sync_notebooks", lambda folder=None: [])
    for var in (params.PIPELINE_ENV, "SALESGAN_ROOT"):
        monkeypatch.delenv(var, raising=False)
    root = paths.project_root()
    rc = pipeline.main(["--profile", "smoke", "--run", "notebooks", "--set", f"outputs_dir={root}"])
    error = capsys.readouterr().err.strip()
    assert rc != 0 and not (root / "notebooks" / "notebooks").exists()
    raise params.ParamsError(error)  # what the user read


TINY = dict(noise_dim=8, cond_dim=16, history_hidden=8, history_layers=1, calendar_hidden=8, review_hidden=4,
            gru_hidden=8, gru_layers=2, critic_channels=(4, 8), critic_hidden=8, batch_size=16, val_samples=4)


def _checkpoint(tmp: Path, **config_change) -> Path:
    import torch

    from salesgan_utils.gan import WGANGP, GanConfig

    module = WGANGP(GanConfig(**TINY), noise_seed=0)
    hparams = dict(module.hparams)
    hparams["config"] = {**hparams["config"], **config_change}
    path = tmp / "02_train_gan" / "checkpoints" / "best.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": hparams}, path)
    return path


def corrupt_checkpoint(tmp: Path):
    from salesgan_utils.gan import load_generator

    path = _checkpoint(tmp)
    path.write_bytes(path.read_bytes()[:1000])  # a copy cut short
    return load_generator(path)


def incompatible_checkpoint(tmp: Path):
    from salesgan_utils.gan import load_generator

    return load_generator(_checkpoint(tmp, gru_hidden=12))  # weights of another architecture


def non_finite_checkpoint(tmp: Path):
    import torch

    from salesgan_utils.gan import load_generator

    path = _checkpoint(tmp)
    checkpoint = torch.load(path, weights_only=True)
    name = next(k for k, v in checkpoint["state_dict"].items() if v.is_floating_point())
    checkpoint["state_dict"][name] = torch.full_like(checkpoint["state_dict"][name], float("nan"))
    torch.save(checkpoint, path)  # the right size and architecture, diverged weights
    return load_generator(path)


def stage_killed_before_it_finished(tmp: Path, monkeypatch):
    # Under the pipeline a stage folder without the completion marker is the leftover of a killed run or a run by
    # hand: reading its checkpoint is refused (the pipeline's own killed runs never touch the folder at all).
    path = _checkpoint(tmp)  # an epoch-0 best.ckpt and no training_history.csv, as a killed training leaves
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    return paths.require_artifact(path, 2)


def samples_of_an_unfinished_stage(tmp: Path, monkeypatch):
    from salesgan_utils import sample

    folder = paths.stage_dir(tmp, 3) / "samples_train"
    folder.mkdir(parents=True)
    for name in (sample.SCALED_FILE, sample.UNITS_FILE, sample.KEYS_FILE, sample.META_FILE):
        (folder / name).write_bytes(b"half written")  # what a killed stage 03 left, without the marker
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    return sample.SampleSet.load(folder)


def published(run: Path, number: int, files: dict[str, bytes], reads: tuple[int, ...] = ()) -> Path:
    """Stage `number` as the pipeline runs it: reading the stages `reads`, writing `files`, then published."""
    settings = {"run": run.name, "outputs_dir": str(run.parent), **{f"in_{n}": "" for n in reads}}
    _, _, out = paths.stage_folders(settings, number, **{f"in_{n}": n for n in reads})
    for name, content in files.items():
        (out / name).write_bytes(content)
    return paths.publish_stage(run, number)


def same_size_edit(tmp: Path, monkeypatch):
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    folder = published(tmp / "run", 1, {"windows_train.npz": b"real windows"})
    (folder / "windows_train.npz").write_bytes(b"edit windows")  # same size: a size check passes it
    return preprocess.load_windows(folder, "train")


def edited_summary_in_the_report(tmp: Path, monkeypatch):
    from salesgan_utils import report

    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    published(tmp / "run", 1, {"metadata.json": b"{}"})
    folder = published(tmp / "run", 4, {"summary.json": b'{"verdict": "no change"}'}, reads=(1,))
    (folder / "summary.json").write_bytes(b'{"verdict": "GAN helps"}')
    return report.gather(tmp / "run")


def stale_after_stage_01_rerun(tmp: Path, monkeypatch):
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    published(tmp / "run", 1, {"metadata.json": b'{"folder": "olist"}'})
    published(tmp / "run", 2, {"model_summary.json": b"{}"}, reads=(1,))
    published(tmp / "run", 1, {"metadata.json": b'{"folder": "other"}'})  # --only 01 on other data
    return paths.stage_folders({"run": "run", "outputs_dir": str(tmp), "gan_stage_dir": ""}, 3, gan_stage_dir=2)


def windows_missing(tmp: Path):
    return preprocess.load_windows(paths.stage_dir(tmp, 1, create=True), "train")


def checkpoint_missing(tmp: Path):
    from salesgan_utils.gan import load_generator

    return load_generator(paths.stage_dir(tmp, 2) / "checkpoints" / "best.ckpt")


def samples_missing(tmp: Path):
    from salesgan_utils.sample import SampleSet

    return SampleSet.load(paths.stage_dir(tmp, 3) / "samples_train")


@dataclass(frozen=True)
class Row:
    """One row of docs/bad_inputs.md."""

    run: Callable[[Path], object]
    error: type[BaseException] | None  # None: a repair, whose count `report` must show
    says: tuple[str, ...] = ()  # substrings of the message: the file/column/parameter, then the fix
    report: dict | None = None  # data report rows {check: value} the repair must show


ROWS = {
    "data folder without Olist tables": Row(no_olist_tables, FileNotFoundError, (
        "my_exports", "olist_orders_dataset.csv", "Point it at the unzipped Kaggle dataset")),
    "required table missing": Row(table_missing, data.DataError, (
        "olist_order_items_dataset.csv", "is missing from", "Download the full Kaggle dataset")),
    "required column missing": Row(column_missing, data.DataError, (
        "olist_order_items_dataset.csv", "['price']", "rename the column back")),
    "required column renamed": Row(column_renamed, data.DataError, (
        "olist_orders_dataset.csv", "'order_purchase_time' -> 'order_purchase_timestamp'", "rename")),
    "empty CSV, header only": Row(header_only, data.DataError, (
        "olist_products_dataset.csv", "header but no rows", "Re-download")),
    "empty CSV, zero bytes": Row(zero_bytes, data.DataError, (
        "olist_orders_dataset.csv", "0 bytes", "Re-download")),
    "unparsable timestamps in some rows": Row(bad_timestamps, None, report={
        "orders_unparsable_or_missing_timestamp_dropped": "2", "items_with_unknown_order_dropped": "2"}),
    "all orders canceled": Row(all_canceled, data.DataError, (
        "olist_orders_dataset.csv", "order_status", "'canceled': 4", "Point data_dir at the full Olist dataset")),
    "fewer days than one window needs": Row(too_few_days, data.DataError, (
        "history_days", "horizon", "20 days", "shorter history_days/horizon")),
    "no entity left after the filters": Row(no_entity_left, data.DataError, (
        "min_train_units=50", "Lower min_train_units")),
    "NaN or negative prices": Row(bad_prices, None, report={"items_missing_or_negative_price": "2"}),
    "duplicated rows": Row(duplicated_rows, None, report={"items_duplicate_rows_dropped": "2"}),
    "BOM and CRLF files": Row(bom_and_crlf, None, report={
        "files_with_utf8_bom_stripped": ", ".join(f"{FILES[k]}.csv" for k in FILES),
        "files_with_crlf_line_ends": ", ".join(f"{FILES[k]}.csv" for k in FILES)}),
    "truncated .csv.gz": Row(truncated_gz, data.DataError, (
        "olist_orders_dataset.csv.gz", "truncated or corrupt", "Re-download")),
    "table as both .csv and .csv.gz": Row(csv_beside_csv_gz, data.DataError, (
        "olist_order_items_dataset", "olist_order_items_dataset.csv (", "olist_order_items_dataset.csv.gz (",
        "Keep one")),
    "two datasets under one data folder": Row(two_datasets, data.DataError, (
        "downloads", "2 Olist datasets", "olist_2018", "olist_old", "Pass the one to use")),
    "typo years in some orders": Row(typo_years, None, report={
        "orders_implausible_date_dropped": "2", "orders_implausible_dates_sample": "2071-01-04 10:00:00, "
        "2081-01-08 10:00:00", "timeline_last_day": "2017-04-10"}),
    "prices with a decimal comma": Row(decimal_comma_prices, None, report={
        "items_price_decimal_comma_read": "100", "items_unparsable_price": "0",
        "items_missing_or_negative_price": "0"}),
    "prices with a currency prefix": Row(currency_prices, None, report={
        "items_price_currency_mark_stripped": "100", "items_unparsable_price": "0",
        "items_missing_or_negative_price": "0"}),
    "semicolon-delimited table": Row(delimited(";"), data.DataError, (
        "olist_orders_dataset.csv", "semicolon-delimited", "save it as comma-separated CSV")),
    "tab-delimited table": Row(delimited("\t"), data.DataError, (
        "olist_orders_dataset.csv", "tab-delimited", "save it as comma-separated CSV")),
    "unparsable timestamps in every row": Row(timestamps_all_unparsable, data.DataError, (
        "olist_orders_dataset.csv", "4 of 4 order_purchase_timestamp", "'01/01/2017 10:00'",
        "expected YYYY-MM-DD HH:MM:SS")),
    "Latin-1 file": Row(latin1_file, data.DataError, (
        "olist_products_dataset.csv", "not UTF-8", "save it as UTF-8")),
    "UTF-16 file": Row(utf16_file, data.DataError, (
        "olist_products_dataset.csv", "not UTF-8", "UTF-16", "save it as UTF-8", "iconv -f utf-16")),
    "prices with a space as thousands separator": Row(spaced_thousands_prices, None, report={
        "items_price_thousands_separator_read": "50", "items_price_decimal_comma_read": "50",
        "items_unparsable_price": "0"}),
    "reviews with typo years": Row(review_typo_years, None, report={
        "reviews_implausible_date_dropped": "2", "reviews_linked_to_panel_entities": "8"}),
    "history_days longer than the data": Row(history_longer_than_data, data.DataError, (
        "history_days = 400", "the panel has 100 days", "shorter history_days")),
    "ISO-8601 timestamps": Row(iso_timestamps, None, report={
        "orders_iso8601_timestamp_read": "75", "orders_unparsable_or_missing_timestamp_dropped": "0"}),
    "keys with a trailing space": Row(padded_keys, None, report={
        "items_key_whitespace_stripped": "5", "items_with_unknown_order_dropped": "0"}),
    "NUL-byte tail of a plain CSV": Row(nul_tail, data.DataError, (
        "olist_orders_dataset.csv", "4,096 NUL byte(s)", "damaged", "Re-download")),
    "conflicting duplicate product ids": Row(conflicting_ids("products", "product_category_name", "perfumaria"),
                                             None, report={"products_conflicting_duplicate_ids_dropped": "1"}),
    "conflicting duplicate category translations": Row(conflicting_ids(
        "translation", "product_category_name_english", "beauty"), None, report={
        "translation_conflicting_duplicate_ids_dropped": "1"}),
    "conflicting duplicate order items": Row(conflicting_ids("items", "price", "99.0"), None, report={
        "items_conflicting_duplicate_ids_dropped": "1"}),
    "conflicting duplicate reviews": Row(conflicting_ids("reviews", "review_score", "1"), None, report={
        "reviews_conflicting_duplicate_ids_dropped": "1"}),
    "most sold items of unknown products": Row(unknown_best_sellers, data.DataError, (
        "olist_products_dataset.csv", "70 of 100 sold items (70%)", "product_id", "repair_error_share",
        "same download")),
    "some sold items of unknown products": Row(few_unknown_products, None, report={
        "items_with_unknown_product_dropped": "5"}),
    "infinite prices": Row(infinite_prices, None, report={"items_without_usable_price": "3"}),
    "review dated before its order": Row(review_before_purchase, None, report={
        "reviews_before_purchase_dropped": "1", "reviews_linked_to_panel_entities": "9"}),
    "gzip inside a gzip": Row(table_bytes("gz2", lambda b: gzip.compress(gzip.compress(b)), ".csv.gz"),
                              data.DataError, ("olist_orders_dataset.csv.gz", "gzip-compressed twice", "gzip -dc")),
    "zip archive named .csv": Row(table_bytes("zip", zipped), data.DataError, (
        "olist_orders_dataset.csv", "zip archive", "unzip")),
    "gzip named .csv": Row(table_bytes("gz", gzip.compress), data.DataError, (
        "olist_orders_dataset.csv", "gzip-compressed but named .csv", "rename it to olist_orders_dataset.csv.gz")),
    "plain text named .csv.gz": Row(table_bytes("plain", lambda b: b, ".csv.gz"), data.DataError, (
        "olist_orders_dataset.csv.gz", "not gzip-compressed", "rename it to olist_orders_dataset.csv")),
    "UTF-16 file without BOM": Row(utf16_without_bom, data.DataError, (
        "olist_products_dataset.csv", "not UTF-8", "UTF-16", "iconv -f utf-16")),
    "folder under a table's name": Row(folder_named_like_a_table, data.DataError, (
        "olist_order_items_dataset.csv", "is a folder, not a file", "put the CSV file itself")),
    "broken link under a table's name": Row(broken_link_table, data.DataError, (
        "olist_order_items_dataset.csv", "symbolic link", "items.csv", "does not exist", "fix the link")),
    "table too large for memory": Row(out_of_memory, MemoryError, (
        "not enough memory", "olist_orders_dataset", "MB on disk", "more memory")),
    "20 MB category name": Row(long_category_name, None, report={"products_long_values_shortened": "1"}),
    "dataset folder behind a symlink": Row(symlinked_dataset, None, report={"data_source_kind": "olist"}),
    "a zip instead of the tables": Row(near_miss("zip"), data.DataError, (
        "brazilian-ecommerce.zip", "an archive: unpack it", "--data demo")),
    "a folder named like the orders table": Row(near_miss("folder"), data.DataError, (
        "olist_orders_dataset.csv", "a folder named like a table", "--data demo")),
    "a broken link instead of the orders table": Row(near_miss("link"), data.DataError, (
        "olist_orders_dataset.csv", "symbolic link", "gone.csv")),
    "params: unknown key": Row(params_file("max_epoch: 3\n"), params.ParamsError, (
        "`max_epoch`", "my_profile.yaml", "did you mean max_epochs")),
    "params: wrong type": Row(params_file("max_epochs: three\n"), params.ParamsError, (
        "`max_epochs`", "my_profile.yaml", "use an int like the notebook default")),
    "params: negative ratio": Row(params_file("ratios: [-1.0, 1.0]\n"), params.ParamsError, (
        "`ratios`", "my_profile.yaml", "negative ratio -1.0", "use values >= 0")),
    "params: horizon 0": Row(params_file("horizon: 0\n"), params.ParamsError, (
        "`horizon`", "my_profile.yaml", "at least 1")),
    "params: split fractions not summing to 1": Row(params_file("train_fraction: 0.8\n"), params.ParamsError, (
        "`train_fraction`", "my_profile.yaml", "= 1.1", "must sum to 1")),
    "params: duplicate key": Row(params_file("max_epochs: 3\nseed: 0\nmax_epochs: 30\n"), params.ParamsError, (
        "my_profile.yaml", "`max_epochs` appears twice", "lines 1 and 3", "delete one")),
    "params: NaN ratio": Row(params_file("ratios: [.nan, 1.0]\n"), params.ParamsError, (
        "`ratios`", "my_profile.yaml", "nan", "finite")),
    "params: infinite ratio": Row(params_file("ratios: [.inf]\n"), params.ParamsError, (
        "`ratios`", "my_profile.yaml", "inf", "finite")),
    "params: unknown augmentation": Row(params_file("augmentations: [jitter, mixup]\n"), params.ParamsError, (
        "`augmentations`", "'mixup'", "'jitter', 'scaling', 'block_bootstrap'")),
    "params: unknown forecaster loss": Row(params_file("forecaster_losses: [mse, huber]\n"), params.ParamsError, (
        "`forecaster_losses`", "'huber'", "'mse', 'poisson', 'tweedie', 'quantile'")),
    "params: negative scarcity size": Row(params_file("scarcity_sizes: [250, -5]\n"), params.ParamsError, (
        "`scarcity_sizes`", "-5", "use values >= 0")),
    "params: accelerator tpu": Row(params_file("accelerator: tpu\n"), params.ParamsError, (
        "`accelerator`", "'tpu'", "'auto', 'cpu', 'gpu', 'cuda'")),
    "params: seed beyond numpy's range": Row(params_file("seed: 4294967296\n"), params.ParamsError, (
        "`seed`", "4294967296", "[0, 4294967295]", "between 0 and 2**32 - 1")),
    "params: YAML alias bomb": Row(params_file('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a]\n'
                                              "ratios: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"), params.ParamsError, (
        "my_profile.yaml", "line 2", "alias *a", "aliases are refused", "write the value out")),
    "params: unknown gan_design": Row(params_file("gan_design: seed\n"), params.ParamsError, (
        "`gan_design`", "'seed'", "'original', 'counts'")),
    "params: unknown strategy": Row(params_file("strategy: ddp_magic\n"), params.ParamsError, (
        "`strategy`", "'ddp_magic'", "'auto'", "'ddp'")),
    "params: bad devices list": Row(params_file("devices: [0, gpu1]\n"), params.ParamsError, (
        "`devices`", "[0, 'gpu1']", "distinct device indices")),
    "params: repair share above 1": Row(params_file("repair_error_share: 5\n"), params.ParamsError, (
        "`repair_error_share`", "is 5", "between 0 and 1")),
    "params: profile not UTF-8": Row(profile_bytes("max_epochs: 3  # três\n".encode("latin-1")), params.ParamsError, (
        "my_profile.yaml", "not UTF-8", "save it as UTF-8")),
    "params: profile is a folder": Row(profile_folder, params.ParamsError, (
        "my_profile.yaml", "is a folder, not a YAML file")),
    "params: profile unreadable": Row(profile_unreadable, params.ParamsError, (
        "my_profile.yaml", "cannot be read", "Permission denied")),
    "run folder inside the checkout": Row(run_folder_in_the_checkout, params.ParamsError, (
        "notebooks", "lies inside the checkout's notebooks/", "outside it")),
    "corrupt checkpoint": Row(corrupt_checkpoint, ValueError, (
        "best.ckpt", "not a readable checkpoint", "Rerun stage 02")),
    "incompatible checkpoint": Row(incompatible_checkpoint, ValueError, (
        "best.ckpt", "does not match the WGAN-GP architecture", "Rerun stage 02")),
    "checkpoint with non-finite weights": Row(non_finite_checkpoint, ValueError, (
        "best.ckpt", "non-finite weights", "Rerun stage 02")),
    "stage 02 killed before it finished": Row(stage_killed_before_it_finished, FileNotFoundError, (
        "02_train_gan", "not written by a finished stage 02", "bash run_all.sh --only 02")),
    "stage 03 killed before it finished": Row(samples_of_an_unfinished_stage, FileNotFoundError, (
        "03_generate_samples", "not written by a finished stage 03", "bash run_all.sh --only 03")),
    "same-size edit of a stage-01 artifact": Row(same_size_edit, FileNotFoundError, (
        "01_eda_preprocess", "windows_train.npz", "content hash differs", "bash run_all.sh --from 01")),
    "edited summary.json read by the report": Row(edited_summary_in_the_report, FileNotFoundError, (
        "04_augmentation_benchmark", "summary.json", "changed since stage 04 finished", "--from 04")),
    "stage 02 stale after stage 01 reran": Row(stale_after_stage_01_rerun, FileNotFoundError, (
        "02_train_gan is stale", "01_eda_preprocess", "rerun", "bash run_all.sh --from 02")),
    "artifact missing: stage-01 windows": Row(windows_missing, FileNotFoundError, (
        "windows_train.npz", "stage 01", "bash run_all.sh --only 01")),
    "artifact missing: stage-02 checkpoint": Row(checkpoint_missing, FileNotFoundError, (
        "best.ckpt", "Rerun stage 02", "--only 02")),
    "artifact missing: stage-03 samples": Row(samples_missing, FileNotFoundError, (
        "samples_train", "stage 03", "bash run_all.sh --only 03")),
}


@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
def test_bad_input_gives_a_clear_error_or_a_counted_repair(row: Row, tmp_path: Path, monkeypatch, capsys) -> None:
    import inspect

    wanted = inspect.signature(row.run).parameters
    fixtures = {name: value for name, value in (("monkeypatch", monkeypatch), ("capsys", capsys)) if name in wanted}
    def run(tmp: Path):
        return row.run(tmp, **fixtures)
    if row.error is not None:
        with pytest.raises(row.error) as raised:
            run(tmp_path)
        message = str(raised.value)
        missing = [part for part in row.says if part not in message]
        assert not missing, f"the message lacks {missing}:\n{message}"
        assert "\n" not in message.strip(), "one readable line, not a dump"
    else:
        table = data.report_table(run(tmp_path)).set_index("check")["value"]
        shown = {check: table.get(check) for check in row.report}
        assert shown == row.report, "the repair's count is not in the data report"


def test_most_prices_unparsable_is_a_loud_warning_not_a_silent_missing_price(tmp_path: Path) -> None:
    tables = long_orders()
    tables["items"]["price"] = ["about ten"] * 90 + ["10.0"] * 10
    with pytest.warns(UserWarning, match=r"PRICES UNPARSABLE: 90 of 100 prices \(90%\).*'about ten'.*58.90"):
        report = load(write(tmp_path / "olist", tables)).report
    assert report["items_unparsable_price"] == 90 and report["items_unparsable_price_sample"] == ["about ten"]


def test_many_missing_prices_are_a_loud_warning(tmp_path: Path) -> None:
    tables = long_orders()
    tables["items"]["price"] = [""] * 60 + ["10.0"] * 40
    with pytest.warns(UserWarning, match=r"PRICES MISSING: 60 of 100 items \(60%\)"):
        report = load(write(tmp_path / "olist", tables)).report
    assert report["items_missing_or_negative_price"] == 60


def test_the_file_read_for_each_table_is_recorded_in_metadata(tmp_path: Path) -> None:
    import hashlib
    import json

    folder = write(tmp_path / "olist", long_orders(), gz=True)
    source = DataSource(folder, "olist", "test")
    _, built, sets = preprocess.build(source, entity="product", train_fraction=0.7, val_fraction=0.15,
                                      test_fraction=0.15, min_train_units=1, top_n=0, history_days=7, horizon=7,
                                      stride=7)
    preprocess.save(tmp_path / "out", source, built, sets, {})
    recorded = json.loads((tmp_path / "out" / "metadata.json").read_text())["data_files"]
    assert sorted(recorded) == sorted(FILES)
    for key, name in FILES.items():
        path = folder / f"{name}.csv.gz"
        assert recorded[key] == {"path": str(path.resolve()), "bytes": path.stat().st_size,
                                 "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_the_doc_has_one_row_per_case() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "bad_inputs.md").read_text(encoding="utf-8")
    assert "test_bad_input_gives_a_clear_error_or_a_counted_repair" in doc
    missing = [case for case in ROWS if f"`{case}`" not in doc]
    assert not missing, f"docs/bad_inputs.md lacks rows for {missing}"


# ------------------------------------------------------------------------------------------------------ full disk
@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB tmpfs (we run as root in CI); where mounting is not permitted, None: the test injects the error."""
    mount = tmp_path / "outputs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_stops_stage_01_naming_the_file_and_keeps_the_previous_artifacts(small_disk, tmp_path: Path,
                                                                                    monkeypatch) -> None:
    from salesgan_utils import demo

    demo.write_demo_tables(tmp_path / "demo", n_products=10, seed=0)
    source = DataSource(tmp_path / "demo", "demo", "test")
    _, built, sets = preprocess.build(source, entity="product", train_fraction=0.7, val_fraction=0.15,
                                      test_fraction=0.15, min_train_units=1, top_n=0, history_days=30, horizon=7,
                                      stride=7)
    out_dir = (small_disk or tmp_path / "outputs") / "01_eda_preprocess"
    out_dir.mkdir()
    previous = {"panel.parquet": b"panel of the previous run", "windows_train.npz": b"windows of the previous run"}
    for name, content in previous.items():
        (out_dir / name).write_bytes(content)
    if small_disk is not None:  # fill the disk, as another job's files would
        disk = os.statvfs(small_disk)
        (small_disk / "filler").write_bytes(b"\0" * (disk.f_bavail * disk.f_frsize - 8192))
    else:
        def full(self, path, *args, **kwargs):
            Path(path).write_bytes(b"PAR1 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(pd.DataFrame, "to_parquet", full)

    with pytest.raises(OSError) as raised:
        preprocess.save(out_dir, source, built, sets, {})
    message = str(raised.value)
    assert raised.value.errno == errno.ENOSPC
    assert str(out_dir / "panel.parquet") in message and "Free space" in message and "SALESGAN_OUTPUTS" in message
    assert {name: (out_dir / name).read_bytes() for name in previous} == previous
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(previous), "a temporary file was left behind"
