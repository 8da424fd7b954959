"""The rolling-origin folds: their dates, their entity choice by recent sales, and that nothing dated after a fold's
validation end changes that fold's entities, scaling or train/validation windows."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import backtest, data, demo, olist, preprocess
from salesgan_utils.paths import DataSource

SETTINGS = dict(entity="product", train_fraction=0.7, val_fraction=0.15, test_fraction=0.15, min_train_units=5,
                top_n=12, history_days=30, horizon=7, stride=1, selection_days=60, backtest_folds=3,
                backtest_spacing_days=120, repair_warn_share=0.01, repair_error_share=0.5)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    demo.write_demo_tables(folder, n_products=40, seed=0)
    return olist.load_tables(folder)


@pytest.fixture(scope="module")
def folds(tables):
    return backtest.build_folds(tables, SETTINGS)


def test_fold_split_moves_every_boundary_back():
    assert data.fold_split(606, 0.7, 0.15, 0.15) == (424, 514, 606)
    assert data.fold_split(606, 0.7, 0.15, 0.15, fold=2, spacing_days=120) == (184, 274, 366)
    with pytest.raises(data.DataError, match="backtest_spacing_days"):
        data.fold_split(606, 0.7, 0.15, 0.15, fold=4, spacing_days=120)


def test_folds_have_the_same_lengths_and_end_on_their_test_end(folds):
    assert [f.index for f in folds] == [0, 1, 2]
    lengths = {(f.panel.val_end - f.panel.train_end, len(f.panel.dates) - f.panel.val_end) for f in folds}
    assert len(lengths) == 1
    ends = [pd.Timestamp(f.dates()["test_end"]) for f in folds]
    assert ends[0] - ends[1] == ends[1] - ends[2] == pd.Timedelta(days=120)
    for fold in folds:
        assert fold.windows["test"].origin.max() < np.datetime64(fold.dates()["test_end"])


def test_fold_zero_without_recent_selection_is_the_split_by_fractions(tables):
    settings = {**SETTINGS, "selection_days": 0}
    fold0 = backtest.build_folds(tables, {**settings, "backtest_folds": 1})[0]
    plain = data.build_panel(tables, entity="product", min_train_units=5, top_n=12)
    assert list(fold0.panel.entity_ids) == list(plain.entity_ids)
    assert np.array_equal(fold0.panel.units, plain.units) and fold0.panel.train_end == plain.train_end


def test_entities_are_ranked_by_sales_in_the_last_selection_days(tables, folds):
    fold = folds[1]
    everything = data.build_panel(tables, entity="product", min_train_units=5, fold=1, fold_spacing_days=120)
    t = everything.train_end
    recent = everything.units[:, t - SETTINGS["selection_days"]:t].sum(axis=1)
    order = np.lexsort((everything.entity_ids.astype(str), -recent))
    assert sorted(fold.panel.entity_ids) == sorted(everything.entity_ids[order[:SETTINGS["top_n"]]])


def _perturb_after(tables: olist.OlistTables, cutoff: pd.Timestamp, seed: int = 0) -> olist.OlistTables:
    """Delete a fifth of the orders dated after `cutoff`, cancel some, and add new ones for a new product.

    Orders of the last 45 days stay: the fold dates are design parameters computed from the length of the whole
    timeline (fold 0 = the split by fractions), which ends on the last sale day.
    """
    rng = np.random.default_rng(seed)
    orders = tables.orders.copy()
    stamps = orders["order_purchase_timestamp"]
    late = (stamps > cutoff) & (stamps < stamps.max() - pd.Timedelta(days=45))
    late_ids = orders.loc[late, "order_id"].to_numpy()
    drop = set(rng.choice(late_ids, size=len(late_ids) // 5, replace=False))
    orders = orders.loc[~orders["order_id"].isin(drop)]
    orders.loc[orders["order_id"].isin(rng.choice(late_ids, size=50, replace=False)), "order_status"] = "canceled"
    items = tables.items.loc[~tables.items["order_id"].isin(drop)].copy()
    new_items = items.loc[items["order_id"].isin(late_ids)].head(200).copy()
    new_items["order_id"] = [f"new{i:029d}" for i in range(len(new_items))]
    new_items.iloc[:80, new_items.columns.get_loc("product_id")] = "f" * 32
    new_orders = pd.DataFrame({"order_id": new_items["order_id"].unique(), "order_status": "delivered",
                               "order_purchase_timestamp": cutoff + pd.Timedelta(days=10)})
    return replace(tables, orders=pd.concat([orders, new_orders], ignore_index=True),
                   items=pd.concat([items, new_items], ignore_index=True))


def test_data_after_a_folds_validation_end_changes_nothing_of_its_choices(tables, folds):
    fold = folds[1]
    cutoff = pd.Timestamp(fold.dates()["val_end"]) + pd.Timedelta(days=1)
    after = backtest.build_folds(_perturb_after(tables, cutoff), SETTINGS)[1]
    before = fold.panel
    assert np.array_equal(before.dates, after.panel.dates)
    assert list(before.entity_ids) == list(after.panel.entity_ids)
    v = before.val_end
    assert np.array_equal(before.units[:, :v], after.panel.units[:, :v])
    assert not np.array_equal(before.units[:, v:], after.panel.units[:, v:])  # the perturbation reached the test
    for name in ("scale_min", "scale_range", "naive_mae", "naive_mse", "demand_class", "first_day"):
        assert np.array_equal(getattr(before, name), getattr(after.panel, name)), name
    for split in ("train", "val"):
        a, b = fold.windows[split], after.windows[split]
        assert np.array_equal(a.history, b.history) and np.array_equal(a.target, b.target), split
    assert backtest.regime_table([fold]).iloc[0]["units_per_day_train"] == \
        backtest.regime_table([after]).iloc[0]["units_per_day_train"]


def test_save_folds_writes_one_stage_folder_per_fold(tmp_path, folds):
    source = DataSource(tmp_path, "demo", "test")
    preprocess.save(tmp_path, source, folds[0].panel, folds[0].windows, SETTINGS)
    backtest.save_folds(tmp_path, source, folds, SETTINGS)
    listing = backtest.load_folds(tmp_path)
    assert [f["fold"] for f in listing] == [0, 1, 2]
    for entry in listing:
        folder = backtest.fold_folder(tmp_path, entry["fold"])
        loaded = preprocess.load_windows(folder, "test")
        assert len(loaded) == len(folds[entry["fold"]].windows["test"])
        assert entry["test_end"] == folds[entry["fold"]].dates()["test_end"]
    assert backtest.load_folds(tmp_path / "nothing") == [{"fold": 0, "folder": "."}]
