"""The data layer on a hand-made set of orders whose panel, features, scaling and windows are computed by hand."""
from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import data, olist, windows

ORDERS = [  # order_id, status, purchase timestamp
    ("o1", "delivered", "2017-01-01 10:00:00"),
    ("o2", "canceled", "2017-01-03 09:00:00"),
    ("o3", "shipped", "2017-01-03 12:00:00"),
    ("o4", "created", "2017-01-05 08:00:00"),
    ("o5", "invoiced", "2017-01-10 23:59:59"),
    ("o6", "delivered", "2017-01-23 10:00:00"),
    ("o7", "delivered", "2017-01-02 10:00:00"),  # no items
    ("o8", "delivered", "not a date"),
    ("o9", "unavailable", "2017-01-04 10:00:00"),
    ("o10", "delivered", "2017-01-31 18:00:00"),  # the last sale: the panel ends on this day
]
ITEMS = [  # order_id, order_item_id, product_id, price
    ("o1", 1, "p1", "10.0"), ("o1", 2, "p1", "10.0"), ("o1", 3, "p2", "5.0"), ("o1", 1, "p1", "10.0"),  # dup row
    ("o2", 1, "p1", "10.0"), ("o3", 1, "p3", "7.0"), ("o4", 1, "p1", "10.0"), ("o5", 1, "p1", "-3.0"),
    ("o6", 1, "p4", "9.0"), ("o8", 1, "p1", "10.0"), ("o9", 1, "p2", "4.0"), ("o10", 1, "p4", "9.0"),
]
PRODUCTS = [("p1", "beleza_saude"), ("p2", None), ("p3", "pc_gamer"), ("p4", "beleza_saude")]
TRANSLATION = [("beleza_saude", "health_beauty"), ("perfumaria", "perfumery")]
REVIEWS = [("r1", "o1", 5, "2017-01-05 00:00:00"), ("r2", "o3", 1, "2017-01-25 00:00:00"),
           ("r3", "o5", 3, "2017-01-11 00:00:00")]


def write_tables(folder, reviews=True, gz=False, bom_crlf=False, orders=ORDERS):
    frames = {
        "olist_orders_dataset": pd.DataFrame(orders, columns=["order_id", "order_status", "order_purchase_timestamp"]),
        "olist_order_items_dataset": pd.DataFrame(ITEMS, columns=["order_id", "order_item_id", "product_id", "price"]),
        "olist_products_dataset": pd.DataFrame(PRODUCTS, columns=["product_id", "product_category_name"]),
        "product_category_name_translation": pd.DataFrame(
            TRANSLATION, columns=["product_category_name", "product_category_name_english"]),
    }
    if reviews:
        frames["olist_order_reviews_dataset"] = pd.DataFrame(
            REVIEWS, columns=["review_id", "order_id", "review_score", "review_creation_date"])
    for name, frame in frames.items():
        text = frame.to_csv(index=False, lineterminator="\r\n" if bom_crlf else "\n")
        raw = (("\ufeff" if bom_crlf else "") + text).encode("utf-8")
        if gz:
            (folder / f"{name}.csv.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / f"{name}.csv").write_bytes(raw)
    return folder


@pytest.fixture
def tables(tmp_path):
    return olist.load_tables(write_tables(tmp_path))


def test_sale_rules_and_timeline(tables):
    lines, facts = data.sale_lines(tables, "product")
    # o1 (2 x p1, 1 x p2), o3 (p3), o5 (p1), o6 and o10 (p4): canceled, created and unavailable orders are not sales
    assert sorted(lines["product_id"]) == ["p1", "p1", "p1", "p2", "p3", "p4", "p4"]
    assert facts["orders_not_counted_as_sales"] == {"canceled": 1, "created": 1, "unavailable": 1}
    assert (facts["timeline_first_day"], facts["timeline_last_day"]) == ("2017-01-01", "2017-01-31")


def test_product_panel_by_hand(tables):
    panel = data.build_panel(tables, entity="product", min_train_units=1)
    # 31 days: train = floor(31 * .7) = 21 days, val = floor(31 * .15) = 4, test = the other 6
    assert (panel.train_end, panel.val_end, len(panel.dates)) == (21, 25, 31)
    assert list(panel.entity_ids) == ["p1", "p2", "p3"]  # p4 sells only after train end: filtered on train
    expected = np.zeros((3, 31))
    expected[0, 0], expected[0, 9], expected[1, 0], expected[2, 2] = 2, 1, 1, 1
    np.testing.assert_array_equal(panel.units, expected)
    assert panel.revenue[0, 0] == 20 and panel.revenue[0, 9] == 0 and panel.revenue[2, 2] == 7
    np.testing.assert_array_equal(panel.first_day, [0, 0, 2])
    np.testing.assert_array_equal(panel.scale_min, [0, 0, 0])
    np.testing.assert_array_equal(panel.scale_range, [2, 1, 1])


def test_panel_frame_is_zero_filled_to_the_end(tables):
    frame = data.build_panel(tables, entity="product").to_frame()
    per_entity = frame.groupby("entity_id")["date"].agg(["min", "max", "count"])
    assert per_entity.loc["p3", "min"] == pd.Timestamp("2017-01-03")  # from its first sale ...
    assert (per_entity["max"] == pd.Timestamp("2017-01-31")).all()  # ... to the end of the panel
    assert per_entity.loc["p3", "count"] == 29
    assert frame["split"].value_counts().to_dict() == {"train": 21 + 21 + 19, "test": 18, "val": 12}
    assert not frame.isna().any().any()


def test_category_level(tables):
    panel = data.build_panel(tables, entity="category")
    # p1 -> English name, p3's category is missing from the translation -> Portuguese, p2 has none -> unknown
    assert list(panel.entity_ids) == ["health_beauty", "pc_gamer", "unknown"]
    # health_beauty also holds p4, whose sales (after train end) count once the category is kept
    assert panel.units.sum(axis=1).tolist() == [5, 1, 1]


@pytest.mark.parametrize("min_units,top_n,expected", [(1, 0, ["p1", "p2", "p3"]), (2, 0, ["p1"]),
                                                      (1, 1, ["p1"]), (1, 2, ["p1", "p2"])])
def test_filters_use_train_units(tables, min_units, top_n, expected):
    panel = data.build_panel(tables, entity="product", min_train_units=min_units, top_n=top_n)
    assert list(panel.entity_ids) == expected  # ties (p2, p3 with 1 unit) break by id


def test_calendar_features():
    dates = pd.date_range("2017-11-13", "2017-11-26")
    features, names = data.calendar_features(dates)
    frame = pd.DataFrame(features, index=dates, columns=names)
    assert frame.loc["2017-11-24", "black_friday"] == 1 and frame["black_friday"].sum() == 1
    assert frame.loc["2017-11-15", "holiday"] == 1  # Proclamação da República
    assert frame.loc["2017-11-13", "dow_0"] == 1 and frame.loc["2017-11-19", "dow_6"] == 1
    assert frame["weekend"].sum() == 4
    assert (frame[[f"dow_{d}" for d in range(7)]].sum(axis=1) == 1).all()


@pytest.mark.parametrize("year,day", [(2016, "2016-11-25"), (2017, "2017-11-24"), (2018, "2018-11-23")])
def test_black_friday(year, day):
    assert data.black_friday(year) == pd.Timestamp(day)


def test_reviews_known_only_from_creation_date(tables):
    panel = data.build_panel(tables, entity="product")
    train = windows.make_windows(panel, "train", history_days=3, horizon=2)
    p1 = train.entity == 0
    by_origin = dict(zip(train.origin[p1].astype(str), train.reviews[p1]))
    # r1 (score 5, on o1) is created 2017-01-05: unknown at the 01-04 origin, known at 01-05
    assert by_origin["2017-01-04"].tolist() == [0.0, 0.0, 1.0]
    assert by_origin["2017-01-05"][:2].tolist() == pytest.approx([1.0, np.log1p(1)])
    # r3 (score 3 on o5, p1) joins on 01-11: mean (5 + 3) / 2 / 5
    assert by_origin["2017-01-11"][:2].tolist() == pytest.approx([0.8, np.log1p(2)])
    p3 = train.entity == 2
    # p3's only review (r2) is created 2017-01-25, after every train origin: never used in train
    assert (train.reviews[p3][:, :2] == 0).all()


def test_reviews_absent_are_flagged(tmp_path):
    with pytest.warns(UserWarning, match="REVIEWS UNAVAILABLE"):
        tables = olist.load_tables(write_tables(tmp_path, reviews=False))
    panel = data.build_panel(tables)
    ws = windows.make_windows(panel, "train", history_days=3, horizon=2)
    assert (ws.reviews == 0).all()


@pytest.mark.parametrize("units,expected", [
    ([1, 1, 1, 1, 1, 1], 0),  # demand every day, constant size: smooth
    ([1, 9, 1, 9, 1, 9], 1),  # every day, sizes vary (CV^2 = 0.64): erratic
    ([0, 0, 2, 0, 0, 2], 2),  # ADI 3, constant size: intermittent
    ([0, 0, 1, 0, 0, 9], 3),  # ADI 3, CV^2 0.64: lumpy
])
def test_demand_class(units, expected):
    row = np.asarray([[0, 0] + units], dtype=np.float32)  # two pad days before the first day count for nothing
    assert data.demand_class(row, np.array([2]))[0] == expected


def test_seasonal_naive_scale_by_hand():
    units = np.array([[0, 1, 0, 0, 0, 0, 0, 2, 1, 0]], dtype=float)
    mae, mse, short, degenerate = data._seasonal_naive_scale(units, np.array([0]), train_end=10)
    # lag-7 differences: |2-0|, |1-1|, |0-0| -> MAE 2/3, MSE 4/3
    assert mae[0] == pytest.approx(2 / 3) and mse[0] == pytest.approx(4 / 3) and short == degenerate == 0


def test_split_fractions_must_sum_to_one():
    with pytest.raises(data.DataError, match="train_fraction=0.7, val_fraction=0.2, test_fraction=0.2"):
        data.split_indices(100, 0.7, 0.2, 0.2)


def test_no_entity_left_is_a_clear_error(tables):
    with pytest.raises(data.DataError, match="no entity left.*min_train_units=50"):
        data.build_panel(tables, min_train_units=50)


def test_all_orders_canceled_is_a_clear_error(tmp_path):
    write_tables(tmp_path)
    orders = pd.read_csv(tmp_path / "olist_orders_dataset.csv")
    orders["order_status"] = "canceled"
    orders.to_csv(tmp_path / "olist_orders_dataset.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = olist.load_tables(tmp_path)
    with pytest.raises(data.DataError, match="no sale orders left"):
        data.build_panel(tables)


def test_panel_ends_on_the_last_day_with_a_sale(tmp_path):
    # Without o10 the last sale is o6 on 2017-01-23: the eight days after it are unobserved, not zero-sale days.
    tables = olist.load_tables(write_tables(tmp_path, orders=[order for order in ORDERS if order[0] != "o10"]))
    panel = data.build_panel(tables, entity="product")
    assert str(panel.dates[-1]) == "2017-01-23" and len(panel.dates) == 23
    assert panel.report["timeline_last_day"] == "2017-01-23"
    assert panel.report["timeline_days_after_last_sale_not_filled"] == 8
