"""Tests of salesgan_utils.demo: reproducible, Olist-shaped demo tables (schema, formats, links, and character)."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from salesgan_utils import demo
from salesgan_utils.paths import table_path

REAL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "olist"
ORDERS, ITEMS, REVIEWS, PRODUCTS, TRANSLATION = (
    "olist_orders_dataset", "olist_order_items_dataset", "olist_order_reviews_dataset", "olist_products_dataset",
    "product_category_name_translation")
# The Kaggle reviews table is not in ../shared/data/olist; its columns as published on Kaggle.
KAGGLE_REVIEW_COLUMNS = ["review_id", "order_id", "review_score", "review_comment_title", "review_comment_message",
                         "review_creation_date", "review_answer_timestamp"]
REAL_STATUSES = {"delivered", "shipped", "canceled", "unavailable", "invoiced", "processing", "created", "approved"}
TIMESTAMP_COLUMNS = {
    ORDERS: ["order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date",
             "order_delivered_customer_date", "order_estimated_delivery_date"],
    ITEMS: ["shipping_limit_date"],
    REVIEWS: ["review_creation_date", "review_answer_timestamp"],
}
ID_COLUMNS = {
    ORDERS: ["order_id", "customer_id"], ITEMS: ["order_id", "product_id", "seller_id"],
    REVIEWS: ["review_id", "order_id"], PRODUCTS: ["product_id"],
    "olist_customers_dataset": ["customer_id", "customer_unique_id"], "olist_sellers_dataset": ["seller_id"],
    "olist_order_payments_dataset": ["order_id"],
}
SMALL = {"n_products": 30, "n_days": 120, "start": "2017-10-01"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The default demo (300 products, the real 2016-09-04 .. 2018-10-17 window), written once."""
    path = tmp_path_factory.mktemp("demo")
    demo.write_demo_tables(path, seed=0)
    return path


@pytest.fixture(scope="module")
def tables(folder) -> dict[str, pd.DataFrame]:
    """The written files read back as text, the way a loader sees them."""
    return {name: pd.read_csv(table_path(folder, name), dtype=str, keep_default_na=False, na_values=[""])
            for name in demo.OLIST_COLUMNS}


@pytest.fixture(scope="module")
def sales(tables) -> pd.DataFrame:
    """Units (item rows) per product and purchase day, with the days between first and last sale filled with 0."""
    orders = tables[ORDERS][["order_id", "order_purchase_timestamp"]]
    items = tables[ITEMS].merge(orders, on="order_id")
    items["date"] = pd.to_datetime(items["order_purchase_timestamp"]).dt.normalize()
    return items.groupby(["product_id", "date"]).size().rename("units").reset_index()


def _bytes_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("compress", [False, True])
def test_same_seed_gives_byte_identical_files(tmp_path, compress):
    demo.write_demo_tables(tmp_path / "a", seed=7, compress=compress, **SMALL)
    demo.write_demo_tables(tmp_path / "b", seed=7, compress=compress, **SMALL)
    assert _bytes_of(tmp_path / "a") == _bytes_of(tmp_path / "b")


def test_different_seed_gives_different_tables(tmp_path):
    a = demo.write_demo_tables(tmp_path / "a", seed=1, **SMALL)
    b = demo.write_demo_tables(tmp_path / "b", seed=2, **SMALL)
    for name in (ORDERS, ITEMS, REVIEWS, PRODUCTS):
        assert a[name].read_bytes() != b[name].read_bytes(), name


def test_writes_every_table_under_its_kaggle_name(folder):
    names = {p.name for p in folder.iterdir()}
    assert names == {f"{name}.csv" for name in demo.OLIST_COLUMNS} | {demo.MARKER_FILE}
    assert not any(name.endswith(".tmp") for name in names)


def test_columns_match_the_documented_kaggle_reviews_table(tables):
    assert list(tables[REVIEWS].columns) == KAGGLE_REVIEW_COLUMNS


@pytest.mark.parametrize("name", [n for n in demo.OLIST_COLUMNS if n != REVIEWS])
def test_columns_match_the_real_tables(tables, name):
    real = table_path(REAL_DIR, name)
    if real is None:
        pytest.skip(f"real Olist table {name} not found in {REAL_DIR}: header comparison needs ../shared/data/olist")
    real_columns = list(pd.read_csv(real, nrows=0, encoding="utf-8-sig").columns)
    assert list(tables[name].columns) == real_columns


def test_translation_file_keeps_the_real_bom_and_crlf(folder):
    raw = (folder / f"{TRANSLATION}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfproduct_category_name,") and b"\r\n" in raw
    real = table_path(REAL_DIR, TRANSLATION)
    if real is not None:
        real_raw = gzip.decompress(real.read_bytes()) if real.suffix == ".gz" else real.read_bytes()
        assert real_raw.split(b"\r\n")[0] == raw.split(b"\r\n")[0]


@pytest.mark.parametrize("name", sorted(ID_COLUMNS))
def test_ids_are_32_hex(tables, name):
    for column in ID_COLUMNS[name]:
        assert tables[name][column].str.fullmatch(r"[0-9a-f]{32}").all(), f"{name}.{column}"
    primary = {ORDERS: "order_id", REVIEWS: "review_id", PRODUCTS: "product_id",
               "olist_sellers_dataset": "seller_id", "olist_customers_dataset": "customer_id"}.get(name)
    if primary:
        assert tables[name][primary].is_unique


@pytest.mark.parametrize("name", sorted(TIMESTAMP_COLUMNS))
def test_timestamps_parse_with_the_kaggle_format(tables, name):
    for column in TIMESTAMP_COLUMNS[name]:
        values = tables[name][column].dropna()
        assert len(values) > 0
        pd.to_datetime(values, format="%Y-%m-%d %H:%M:%S")  # raises on any other format
        assert values.str.len().eq(19).all()


def test_zip_prefixes_keep_leading_zeros(tables):
    for name, column in (("olist_customers_dataset", "customer_zip_code_prefix"),
                         ("olist_sellers_dataset", "seller_zip_code_prefix")):
        assert tables[name][column].str.fullmatch(r"\d{5}").all()


def test_every_link_resolves(tables):
    orders = set(tables[ORDERS]["order_id"])
    items = tables[ITEMS]
    assert set(items["order_id"]) <= orders
    assert set(items["product_id"]) <= set(tables[PRODUCTS]["product_id"])
    assert set(items["seller_id"]) <= set(tables["olist_sellers_dataset"]["seller_id"])
    assert set(tables[REVIEWS]["order_id"]) <= orders
    assert set(tables["olist_order_payments_dataset"]["order_id"]) == orders
    assert set(tables["olist_customers_dataset"]["customer_id"]) == set(tables[ORDERS]["customer_id"])
    assert not items.duplicated(["order_id", "order_item_id"]).any()


def test_reviews_are_created_after_delivery(tables):
    orders = tables[ORDERS][["order_id", "order_delivered_customer_date", "order_purchase_timestamp"]]
    reviews = tables[REVIEWS].merge(orders, on="order_id")
    created = pd.to_datetime(reviews["review_creation_date"])
    delivered = pd.to_datetime(reviews["order_delivered_customer_date"])
    assert (created > pd.to_datetime(reviews["order_purchase_timestamp"])).all()
    assert (created[delivered.notna()] > delivered[delivered.notna()]).all()
    assert (created.dt.normalize() == created).all()  # a date at 00:00:00, as on Kaggle
    assert ((created - delivered).dt.days.dropna() <= 10).mean() > 0.95
    assert (pd.to_datetime(reviews["review_answer_timestamp"]) >= created).all()


def test_review_scores_have_the_real_skew(tables):
    shares = tables[REVIEWS]["review_score"].astype(int).value_counts(normalize=True)
    assert set(shares.index) == {1, 2, 3, 4, 5}
    assert shares[5] == pytest.approx(0.57, abs=0.03)
    assert shares[1] == pytest.approx(0.11, abs=0.02)


def test_statuses_are_the_real_ones_in_real_proportions(tables):
    orders = tables[ORDERS]
    status = orders["order_status"]
    assert set(status) <= REAL_STATUSES
    assert status.eq("delivered").mean() == pytest.approx(0.97, abs=0.015)
    assert status.isin(["canceled", "unavailable"]).mean() == pytest.approx(0.012, abs=0.006)
    delivered = status.eq("delivered")
    assert orders.loc[delivered, "order_delivered_customer_date"].notna().mean() > 0.99
    assert orders.loc[status.isin(["shipped", "invoiced", "processing", "unavailable"]),
                      "order_delivered_customer_date"].isna().all()


def test_orders_without_items_and_multi_item_orders_exist(tables):
    orders, items = tables[ORDERS], tables[ITEMS]
    without = orders.loc[~orders["order_id"].isin(items["order_id"]), "order_status"]
    assert 0.002 < len(without) / len(orders) < 0.02
    assert without.eq("unavailable").any()
    rows = items.groupby("order_id").size()
    assert rows.max() >= 3 and 0.05 < (rows > 1).mean() < 0.2


def test_products_without_category_and_an_untranslated_category(tables):
    products, translation = tables[PRODUCTS], tables[TRANSLATION]
    assert products["product_category_name"].isna().any()
    assert products.loc[products["product_category_name"].isna(), "product_name_lenght"].isna().all()
    used = set(products["product_category_name"].dropna())
    assert used - set(translation["product_category_name"]) == {demo.UNTRANSLATED_CATEGORY}


def test_timeline_has_near_empty_first_and_last_months(tables):
    purchase = pd.to_datetime(tables[ORDERS]["order_purchase_timestamp"])
    assert purchase.min() >= pd.Timestamp("2016-09-04") and purchase.max() < pd.Timestamp("2018-10-18")
    monthly = purchase.dt.to_period("M").value_counts().sort_index()
    assert monthly.index[0] == pd.Period("2016-09") and monthly.index[-1] == pd.Period("2018-10")
    assert monthly.iloc[0] < 0.02 * monthly.max() and monthly.iloc[-1] < 0.02 * monthly.max()
    # Upward trend: the plateau year sells several times what the first busy quarter did.
    assert monthly["2018-01":"2018-06"].mean() > 2.5 * monthly["2016-10":"2016-12"].mean()


def test_black_friday_spike(sales):
    daily = sales.groupby("date")["units"].sum()
    november = daily["2017-11-01":"2017-11-30"]
    assert daily[pd.Timestamp("2017-11-24")] >= 3 * november.median()


def test_weekly_seasonality(sales):
    daily = sales.groupby("date")["units"].sum()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max()), fill_value=0)["2017-03":"2018-07"]
    by_weekday = daily.groupby(daily.index.dayofweek).mean()
    assert by_weekday[[5, 6]].mean() < 0.85 * by_weekday[[0, 1, 2]].mean()


def test_popularity_is_heavy_tailed(sales):
    units = sales.groupby("product_id")["units"].sum().sort_values(ascending=False)
    top = units.iloc[: max(1, len(units) // 10)]
    assert top.sum() > 0.5 * units.sum()


def _zero_share_and_top(sales):
    """Share of zero days between each product's first and last sale; units per product."""
    span = sales.groupby("product_id")["date"].agg(lambda d: (d.max() - d.min()).days + 1)
    selling_days = sales.groupby("product_id").size()
    return 1 - selling_days / span, sales.groupby("product_id")["units"].sum().sort_values(ascending=False)


def test_demand_is_intermittent_but_top_products_sell_most_days(sales):
    zero_share, units = _zero_share_and_top(sales)
    assert zero_share.median() > 0.7
    assert (zero_share[units.index[:3]] < 0.5).all()


def test_marker_and_banner(folder, tmp_path):
    assert demo.is_demo_folder(folder)
    assert not demo.is_demo_folder(tmp_path)
    marker = (folder / demo.MARKER_FILE).read_text(encoding="utf-8")
    assert "DEMO DATA — not Olist" in marker and "GENERATED" in marker
    assert "DEMO DATA — not Olist" in demo.demo_banner()


def test_compressed_tables_replace_a_stale_plain_copy(tmp_path):
    demo.write_demo_tables(tmp_path, seed=3, **SMALL)
    written = demo.write_demo_tables(tmp_path, seed=3, compress=True, **SMALL)
    for name, path in written.items():
        assert path.name == f"{name}.csv.gz" and table_path(tmp_path, name) == path
    orders = pd.read_csv(written[ORDERS])
    assert list(orders.columns) == demo.OLIST_COLUMNS[ORDERS] and len(orders) > 0


@pytest.mark.parametrize("kwargs, first, last", [
    ({"n_days": 730}, "2016-09-04", "2018-09-02"),
    ({"start": "2017-10-01", "n_days": 120}, "2017-10-01", "2018-01-28"),
    ({"start": "2017-01-01", "end": "2017-12-31"}, "2017-01-01", "2017-12-31"),
])
def test_window_arguments(kwargs, first, last):
    orders = demo.demo_tables(n_products=30, seed=0, **kwargs)[ORDERS]
    purchase = orders["order_purchase_timestamp"]
    assert purchase.min() >= pd.Timestamp(first) and purchase.max() < pd.Timestamp(last) + pd.Timedelta(days=1)
    assert len(orders) > 100


@pytest.mark.parametrize("kwargs, message", [
    ({"n_products": 5}, "n_products"),
    ({"n_days": 10}, "too short"),
])
def test_too_small_a_demo_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        demo.demo_tables(**kwargs)
