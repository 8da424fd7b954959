"""Tests of salesgan_utils.olist: the tables as read, on hand-made CSVs whose repairs are counted by hand."""
from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import olist
from salesgan_utils.repairs import RepairRule

ORDERS = [("o1", "delivered", "2017-01-01 10:00:00"), ("o2", "canceled", "2017-01-03 09:00:00"),
          ("o3", "shipped", "2017-01-03 12:00:00"), ("o7", "delivered", "2017-01-02 10:00:00"),  # o7: no items
          ("o8", "delivered", "not a date")]
ITEMS = [("o1", 1, "p1", "10.0"), ("o1", 2, "p1", "10.0"), ("o1", 3, "p2", "5.0"), ("o1", 1, "p1", "10.0"),  # dup
         ("o2", 1, "p1", "10.0"), ("o3", 1, "p3", "-3.0"), ("o8", 1, "p1", "10.0")]
PRODUCTS = [("p1", "beleza_saude"), ("p2", None), ("p3", "pc_gamer")]
TRANSLATION = [("beleza_saude", "health_beauty"), ("perfumaria", "perfumery")]
REVIEWS = [("r1", "o1", "5", "2017-01-05 00:00:00"), ("r2", "o3", "1", "2017-01-25 00:00:00")]


def write(folder, gz: bool = False, bom_crlf: bool = False, reviews: bool = True):
    tables = {"orders": ORDERS, "items": ITEMS, "products": PRODUCTS, "translation": TRANSLATION,
              "reviews": REVIEWS if reviews else None}
    folder.mkdir(parents=True, exist_ok=True)
    for key, rows in tables.items():
        if rows is None:
            continue
        name, columns = olist.TABLES[key]
        text = pd.DataFrame(rows, columns=columns).to_csv(index=False, lineterminator="\r\n" if bom_crlf else "\n")
        raw = (("\ufeff" if bom_crlf else "") + text).encode("utf-8")
        (folder / f"{name}.csv{'.gz' if gz else ''}").write_bytes(gzip.compress(raw) if gz else raw)
    return folder


def test_report_counts_every_repair(tmp_path):
    report = olist.load_tables(write(tmp_path)).report
    assert report["items_duplicate_rows_dropped"] == 1
    assert report["orders_unparsable_or_missing_timestamp_dropped"] == 1  # o8
    assert report["items_missing_or_negative_price"] == 1  # -3.0
    assert report["orders_without_items"] == 1  # o7
    assert report["items_with_unknown_order_dropped"] == 1  # o8's item: o8 lost its order row (bad timestamp)
    assert report["categories_missing_translation"] == ["pc_gamer"]
    assert report["products_without_category"] == 1
    assert report["reviews_available"] is True
    assert report["reviews_before_purchase_dropped"] == 0


def test_gzip_bom_crlf_are_read_like_plain_files(tmp_path):
    plain = olist.load_tables(write(tmp_path / "a"))
    odd = olist.load_tables(write(tmp_path / "b", gz=True, bom_crlf=True))
    for key in ("orders", "items", "products", "translation", "reviews"):
        pd.testing.assert_frame_equal(getattr(plain, key), getattr(odd, key))
    assert len(odd.report["files_with_utf8_bom_stripped"]) == 5 == len(odd.report["files_with_crlf_line_ends"])


def test_missing_reviews_are_a_loud_warning_not_an_error(tmp_path):
    with pytest.warns(UserWarning, match="REVIEWS UNAVAILABLE"):
        tables = olist.load_tables(write(tmp_path, reviews=False))
    assert tables.reviews is None and not tables.reviews_available


def test_the_file_read_is_recorded_with_its_hash(tmp_path):
    folder = write(tmp_path, gz=True)
    record = olist.load_tables(folder).report["files_read"]["orders"]
    path = folder / "olist_orders_dataset.csv.gz"
    assert record == {"path": str(path.resolve()), "bytes": path.stat().st_size,
                      "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


@pytest.mark.parametrize("text, expected, iso", [
    ("2017-10-02 10:56:33", "2017-10-02 10:56:33", False),
    ("2017-10-02T10:56:33", "2017-10-02 10:56:33", True),
    ("2017-10-02T10:56:33Z", "2017-10-02 10:56:33", True),
    ("2017-10-02T10:56:33.250-03:00", "2017-10-02 10:56:33", True),  # the wall-clock time as written
    ("2017-10-02T10:56", "2017-10-02 10:56:00", True),
    ("2017-10-02", "2017-10-02 00:00:00", True),
    (" 2017-10-02 10:56:33 ", "2017-10-02 10:56:33", True),
    ("02/10/2017 10:56", None, False),
    ("2017-13-02 10:56:33", None, False),
])
def test_timestamps_read_olist_format_then_iso_8601(text, expected, iso):
    parsed, read_as_iso = olist.parse_timestamps(pd.Series([text]))
    assert (None if pd.isna(parsed[0]) else str(parsed[0])) == expected
    assert bool(read_as_iso[0]) is iso


def test_prices_are_finite_numbers_or_missing():
    report: dict = {}
    raw = pd.Series(["10.5", "inf", "Infinity", "1e400", "-2", "58,9", "R$ 1.234,56", "ten", None])
    prices = olist.parse_prices(raw, "items.csv", report, RepairRule(warn_share=0.5))
    expected = [10.5, np.nan, np.nan, np.nan, -2.0, 58.9, 1234.56, np.nan, np.nan]
    np.testing.assert_allclose(prices.to_numpy(dtype=float), expected, equal_nan=True)
    assert report["items_non_finite_price"] == 2  # inf, 1e400 (Infinity does not parse: unparsable)
    assert report["items_unparsable_price"] == 4  # not finite numbers: inf, Infinity, 1e400, ten


def test_the_plausible_span_is_the_bulk_widened_by_its_width():
    # the 5th and 95th percentiles fall on the first and last blocks: a bulk of 200 days, widened by 200 each side
    days = pd.Series(pd.to_datetime(["2017-01-01"] * 10 + ["2017-04-11"] * 80 + ["2017-07-20"] * 10))
    low, high = olist.plausible_span(days)
    assert (str(low.date()), str(high.date())) == ("2016-06-15", "2018-02-05")


def test_padded_and_overlong_keys_still_join(tmp_path):
    folder = write(tmp_path)
    long_id = "p" * 5000
    items = pd.read_csv(folder / "olist_order_items_dataset.csv", dtype=str)
    items["order_id"] = " " + items["order_id"] + "\t"
    items.loc[items["product_id"] == "p2", "product_id"] = long_id
    items.to_csv(folder / "olist_order_items_dataset.csv", index=False)
    products = pd.read_csv(folder / "olist_products_dataset.csv", dtype=str)
    products.loc[products["product_id"] == "p2", "product_id"] = long_id
    products.to_csv(folder / "olist_products_dataset.csv", index=False)
    with pytest.warns(UserWarning, match="KEYS PADDED"):
        tables = olist.load_tables(folder)
    assert tables.report["items_key_whitespace_stripped"] == 7
    assert tables.report["items_long_values_shortened"] == 1 == tables.report["products_long_values_shortened"]
    assert tables.report["items_with_unknown_order_dropped"] == 1  # o8's only, as with clean keys
    assert set(tables.items["product_id"]) <= set(tables.products["product_id"])  # the shortened ids still join
    assert max(map(len, tables.items["product_id"])) < 300
