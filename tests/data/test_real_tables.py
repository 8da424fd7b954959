"""Checks on the real Olist tables in ../shared/data/olist/: counts, panel invariants and no leakage."""
from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import data, olist, paths, windows

OLIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "olist"
pytestmark = pytest.mark.skipif(not paths.table_path(OLIST, "olist_orders_dataset"),
                                reason=f"real Olist tables not found in {OLIST} (they live beside the repo in CI)")

README_ROWS = {"orders": 99_441, "items": 112_650, "products": 32_951, "translation": 71}


@pytest.fixture(scope="module")
def tables():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reviews table is absent here, by design
        return olist.load_tables(OLIST)


@pytest.fixture(scope="module")
def panel(tables):
    return data.build_panel(tables, entity="product", min_train_units=1)


def test_table_counts_match_the_readme(tables):
    for key, rows in README_ROWS.items():
        assert tables.report[f"{key}_rows"] == rows
    assert tables.report["orders_by_status"] == {"delivered": 96478, "shipped": 1107, "canceled": 625,
                                                 "unavailable": 609, "invoiced": 314, "processing": 301,
                                                 "created": 5, "approved": 2}
    assert tables.report["orders_without_items"] == 775
    assert tables.report["products_without_category"] == 610
    assert tables.report["categories_missing_translation"] == ["pc_gamer",
                                                               "portateis_cozinha_e_preparadores_de_alimentos"]
    assert tables.report["reviews_available"] is False


def test_panel_invariants(panel):
    assert np.isfinite(panel.units).all() and (panel.units >= 0).all()
    assert np.array_equal(panel.units, np.rint(panel.units))
    days = pd.to_datetime(panel.dates)
    assert (np.diff(days.values).astype("timedelta64[D]").astype(int) == 1).all()  # contiguous days
    # The documented trim keeps 2017-01 .. 2018-08, ending on the last sale (2018-08-29, not the month's end);
    # 606 days split 70/15/15 by global date
    assert panel.split_dates() == {"train_start": "2017-01-01", "train_end": "2018-02-28",
                                   "val_start": "2018-03-01", "val_end": "2018-05-29",
                                   "test_start": "2018-05-30", "test_end": "2018-08-29"}
    assert (panel.first_day < panel.train_end).all()
    assert (panel.scale_range > 0).all() and (panel.naive_mae > 0).all()


def test_panel_frame_has_no_missing_values(tables):
    frame = data.build_panel(tables, entity="category").to_frame()
    assert not frame.isna().any().any()
    assert set(frame["split"]) == {"train", "val", "test"}


def _perturb_after(tables: olist.OlistTables, cutoff: pd.Timestamp, seed: int = 0) -> olist.OlistTables:
    """Delete, change and add orders dated after `cutoff` (and their items), leaving earlier rows untouched."""
    rng = np.random.default_rng(seed)
    orders = tables.orders.copy()
    late = orders["order_purchase_timestamp"] > cutoff
    late_ids = orders.loc[late, "order_id"].to_numpy()
    drop = set(rng.choice(late_ids, size=len(late_ids) // 5, replace=False))
    orders = orders.loc[~orders["order_id"].isin(drop)]
    change = orders["order_id"].isin(rng.choice(late_ids, size=200, replace=False))
    orders.loc[change, "order_status"] = "canceled"
    items = tables.items.loc[~tables.items["order_id"].isin(drop)].copy()
    # New late orders for products that sold early and for a brand-new product
    new_items = items.loc[items["order_id"].isin(late_ids)].head(300).copy()
    new_items["order_id"] = [f"new{i:029d}" for i in range(len(new_items))]
    new_items.iloc[:50, new_items.columns.get_loc("product_id")] = "f" * 32
    new_orders = pd.DataFrame({"order_id": new_items["order_id"].unique(), "order_status": "delivered",
                               "order_purchase_timestamp": cutoff + pd.Timedelta(days=30)})
    return replace(tables, orders=pd.concat([orders, new_orders], ignore_index=True),
                   items=pd.concat([items, new_items], ignore_index=True))


@pytest.mark.parametrize("entity,top_n,min_units", [("product", 0, 1), ("product", 50, 5), ("category", 10, 1)])
def test_no_leakage_from_orders_after_train_end(tables, entity, top_n, min_units):
    before = data.build_panel(tables, entity=entity, top_n=top_n, min_train_units=min_units)
    cutoff = pd.Timestamp(before.dates[before.train_end - 1]) + pd.Timedelta(days=1)
    after = data.build_panel(_perturb_after(tables, cutoff), entity=entity, top_n=top_n, min_train_units=min_units)
    assert before.train_end == after.train_end and np.array_equal(before.dates, after.dates)
    assert list(before.entity_ids) == list(after.entity_ids)  # the filters' choice
    t = before.train_end
    assert np.array_equal(before.units[:, :t], after.units[:, :t])
    assert np.array_equal(before.revenue[:, :t], after.revenue[:, :t])
    assert not np.array_equal(before.units[:, t:], after.units[:, t:])  # the perturbation did change the future
    for name in ("scale_min", "scale_range", "naive_mae", "naive_mse", "demand_class", "first_day"):
        assert np.array_equal(getattr(before, name), getattr(after, name)), name
    w_before, w_after = windows.make_windows(before, "train"), windows.make_windows(after, "train")
    for name in windows.WindowSet._ARRAYS:
        assert np.array_equal(getattr(w_before, name), getattr(w_after, name)), name


def test_val_and_test_windows_stay_in_their_split(panel):
    for split, lo, hi in (("val", panel.train_end, panel.val_end), ("test", panel.val_end, len(panel.dates))):
        ws = windows.make_windows(panel, split, stride=7)
        first_target = pd.to_datetime(ws.origin) + pd.Timedelta(days=1)
        last_target = pd.to_datetime(ws.origin) + pd.Timedelta(days=ws.horizon)
        assert first_target.min() == pd.Timestamp(panel.dates[lo])
        assert last_target.max() <= pd.Timestamp(panel.dates[hi - 1])
