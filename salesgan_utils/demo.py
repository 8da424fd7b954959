"""Embedded demo data: a seeded, generated stand-in for the Olist tables, for machines without the Kaggle dataset.

`write_demo_tables` writes the tables the pipeline reads under their Kaggle file names, with the Kaggle column names
and value formats (32-hex ids, `YYYY-MM-DD HH:MM:SS` timestamps, the real order statuses), so that the loaders meet
the real schema. The numbers are invented, but shaped like the real data (see ../shared/data/olist/README.md):

- product popularity is heavy-tailed (stratified log-normal weights: the top tenth of products hold about 60% of
  units), each product has a launch (and sometimes a retirement) date and a slow weekly drift, so a product-day panel
  is mostly zeros while the top products sell on most days;
- daily orders follow the real weekday profile, an upward trend that saturates, a Black Friday spike (the Friday after
  the fourth Thursday of November: 2017-11-24 in the default window), and near-empty first and last weeks, like
  Olist's 2016-09 and 2018-09/10;
- order statuses in the real proportions (about 1.2% canceled or unavailable), with each status's missing
  timestamps; orders that would be delivered after the snapshot date are still `shipped` or `processing`;
- multi-item orders (often the same product twice), orders without items (mostly `unavailable`), products without
  a category, a category missing from the translation table (`pc_gamer`), one product without dimensions;
- one review per order (a few orders have two), created at midnight one or more days AFTER delivery, with the real
  score skew (about 57% five stars, 11% one star) and lower scores for late or undelivered orders;
- the translation table keeps the real file's UTF-8 BOM and CRLF line ends.

Everything is drawn from one `numpy.random.Generator`, so one seed gives byte-identical files (gzip headers carry
no time stamp). A marker file `DEMO_DATA.txt` says the folder is generated; `is_demo_folder` looks for it.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from salesgan_utils.data import black_friday
from salesgan_utils.paths import TABLE_SUFFIXES, atomic_path

MARKER_FILE = "DEMO_DATA.txt"
DEFAULT_START = "2016-09-04"  # the real first purchase date
DEFAULT_END = "2018-10-17"  # the real last purchase date

# Column lists of the Kaggle tables, in file order (original misspellings kept).
OLIST_COLUMNS: dict[str, list[str]] = {
    "olist_orders_dataset": [
        "order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at",
        "order_delivered_carrier_date", "order_delivered_customer_date", "order_estimated_delivery_date"],
    "olist_order_items_dataset": [
        "order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date", "price", "freight_value"],
    "olist_order_reviews_dataset": [
        "review_id", "order_id", "review_score", "review_comment_title", "review_comment_message",
        "review_creation_date", "review_answer_timestamp"],
    "olist_products_dataset": [
        "product_id", "product_category_name", "product_name_lenght", "product_description_lenght",
        "product_photos_qty", "product_weight_g", "product_length_cm", "product_height_cm", "product_width_cm"],
    "product_category_name_translation": ["product_category_name", "product_category_name_english"],
    "olist_customers_dataset": [
        "customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"],
    "olist_sellers_dataset": ["seller_id", "seller_zip_code_prefix", "seller_city", "seller_state"],
    "olist_order_payments_dataset": [
        "order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"],
}

# Real status shares (99,441 orders: delivered 96,478, shipped 1,107, canceled 625, unavailable 609, ...).
STATUS_SHARES = {"delivered": 0.9702, "shipped": 0.0111, "canceled": 0.0063, "unavailable": 0.0061,
                 "invoiced": 0.0032, "processing": 0.0030, "created": 0.00005, "approved": 0.00005}
# Weekday shares of real purchases, Monday first, as multipliers near 1.
WEEKDAY_FACTOR = np.array([0.1629, 0.1605, 0.1564, 0.1484, 0.1420, 0.1095, 0.1203]) * 7
# Real purchase share by hour of day (Brazilian evenings busy, nights quiet).
HOUR_SHARES = np.array([0.024, 0.012, 0.005, 0.003, 0.002, 0.002, 0.005, 0.012, 0.030, 0.048, 0.062, 0.066,
                        0.060, 0.066, 0.066, 0.065, 0.067, 0.062, 0.058, 0.060, 0.062, 0.063, 0.058, 0.041])
# Rows per order (real: 90% one row; extra rows often repeat the product, Olist's way of writing a quantity).
ROWS_PER_ORDER = np.array([0.900, 0.076, 0.0135, 0.0052, 0.0022, 0.0031])
SAME_PRODUCT_SHARE = 0.65
# Review score shares 1..5 (real: 11% one star, 57% five stars).
SCORE_TARGET = np.array([0.11, 0.03, 0.08, 0.21, 0.57])
SCORE_WHEN_BAD = np.array([0.45, 0.10, 0.12, 0.13, 0.20])  # late or undelivered orders
PAYMENT_TYPES = (["credit_card", "boleto", "voucher", "debit_card"], [0.74, 0.19, 0.055, 0.015])
INSTALLMENTS = (np.arange(1, 11), np.array([0.43, 0.14, 0.12, 0.08, 0.06, 0.05, 0.02, 0.05, 0.01, 0.04]))

# Categories used (a subset of the real 71, with real-like weights) and their translation. `pc_gamer` is kept out
# of the translation table, as it is out of the real one.
CATEGORIES = {
    "cama_mesa_banho": ("bed_bath_table", 3029), "esporte_lazer": ("sports_leisure", 2867),
    "moveis_decoracao": ("furniture_decor", 2657), "beleza_saude": ("health_beauty", 2444),
    "utilidades_domesticas": ("housewares", 2335), "automotivo": ("auto", 1900),
    "informatica_acessorios": ("computers_accessories", 1639), "brinquedos": ("toys", 1411),
    "relogios_presentes": ("watches_gifts", 1329), "telefonia": ("telephony", 1134), "bebes": ("baby", 919),
    "perfumaria": ("perfumery", 868), "papelaria": ("stationery", 849),
    "fashion_bolsas_e_acessorios": ("fashion_bags_accessories", 849), "cool_stuff": ("cool_stuff", 789),
    "ferramentas_jardim": ("garden_tools", 753), "pet_shop": ("pet_shop", 719), "eletronicos": ("electronics", 517),
    "eletrodomesticos": ("home_appliances", 370), "artigos_de_natal": ("christmas_supplies", 128),
    "pc_gamer": (None, 40),
}
UNTRANSLATED_CATEGORY = "pc_gamer"
NO_CATEGORY_SHARE = 0.02  # real: 610 of 32,951 products

# (city, state, first zip prefix, number of prefixes, weight): real large cities and seller hubs.
PLACES = [
    ("sao paulo", "SP", 1000, 5000, 16), ("rio de janeiro", "RJ", 20000, 3800, 7),
    ("belo horizonte", "MG", 30000, 2000, 3), ("brasilia", "DF", 70000, 2800, 2), ("curitiba", "PR", 80000, 3000, 1.6),
    ("campinas", "SP", 13000, 140, 1.5), ("porto alegre", "RS", 90000, 2000, 1.4),
    ("salvador", "BA", 40000, 2500, 1.3), ("guarulhos", "SP", 7000, 400, 1.2),
    ("sao bernardo do campo", "SP", 9600, 300, 0.9), ("santo andre", "SP", 9000, 300, 0.8),
    ("joinville", "SC", 89200, 40, 0.6), ("recife", "PE", 50000, 3000, 0.7), ("goiania", "GO", 74000, 900, 0.7),
    ("fortaleza", "CE", 60000, 1600, 0.6), ("ibitinga", "SP", 14940, 5, 0.5), ("maringa", "PR", 87000, 120, 0.5),
]

# (title, message) templates by score, Portuguese like the real ones; one message has a quoted line break, as some
# real messages do.
REVIEW_TEXTS = {
    1: [("Péssimo", "Não recebi o produto até agora."),
        ("Não recomendo", "Produto veio com defeito, quero devolver."),
        (None, "Comprei dois, chegou apenas um.\r\nAguardo retorno.")],
    2: [("Ruim", "Produto diferente do anunciado."), (None, "Demorou muito para chegar, embalagem danificada.")],
    3: [(None, "Produto ok, mas a entrega atrasou."), ("Regular", "Esperava mais pela qualidade.")],
    4: [("Bom", "Chegou no prazo, produto bom."), (None, "Gostei, só a embalagem que veio amassada.")],
    5: [("Recomendo", "Produto ótimo, chegou antes do prazo!"), ("Excelente", "Muito bom, recomendo a loja."),
        (None, "Tudo certo, entrega rápida. Obrigado")],
}


def demo_banner() -> str:
    """The loud plain-text banner that notebooks and the report show whenever demo data is in use."""
    rule = "=" * 78
    return "\n".join([
        rule,
        "!!! DEMO DATA — not Olist !!!",
        "These tables were generated by salesgan_utils.demo (seeded, invented numbers).",
        "No figure or metric computed from them says anything about the real Olist data.",
        "For real results: add the Kaggle dataset olistbr/brazilian-ecommerce, or pass --data DIR.",
        rule,
    ])


def is_demo_folder(folder: str | Path) -> bool:
    """True when `folder` holds the marker file that `write_demo_tables` writes (last, once every table is written)."""
    return (Path(folder) / MARKER_FILE).is_file()


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random 32-hex ids (128 bits: collisions are not a practical concern)."""
    return np.frombuffer(rng.bytes(16 * n).hex().encode("ascii"), dtype="S32").astype(str)


def _seconds(days: np.ndarray) -> np.ndarray:
    return np.round(days * 86400).astype("int64")


def _timestamps(epoch_seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    values = epoch_seconds.astype("datetime64[s]")
    if missing is not None:
        values = np.where(missing, np.datetime64("NaT"), values)
    return pd.Series(values)


def _lognormal_weights(n: int, sigma: float) -> np.ndarray:
    """Stratified log-normal quantiles: the tail shares barely depend on the seed or the catalog size."""
    normal = NormalDist()
    return np.exp(sigma * np.array([normal.inv_cdf((i + 0.5) / n) for i in range(n)]))


def _window(start: str, end: str | None, n_days: int | None) -> tuple[np.datetime64, int]:
    first = np.datetime64(pd.Timestamp(start).date(), "D")
    if n_days is None:
        n_days = int((np.datetime64(pd.Timestamp(end or DEFAULT_END).date(), "D") - first).astype(int)) + 1
    if n_days < 28:
        raise ValueError(f"demo window of {n_days} days is too short: use n_days >= 28 (or an end date 4 weeks or "
                         f"more after {first})")
    return first, int(n_days)


def _products(rng, n_products):
    """Products table, popularity weights (in table order), and each product's price and base freight."""
    ids = _hex_ids(rng, n_products)
    weights = rng.permutation(_lognormal_weights(n_products, 1.6))
    names = list(CATEGORIES)
    prior = np.array([CATEGORIES[c][1] for c in names], float)
    category = np.array(names, dtype=object)[rng.choice(len(names), n_products, p=prior / prior.sum())]
    # Guarantee each quirk at least once, on a product that is not among the best sellers.
    quiet = np.argsort(weights)[: max(3, n_products // 2)]
    quirky = rng.choice(quiet, 3, replace=False)
    category[quirky[0]] = UNTRANSLATED_CATEGORY
    no_category = rng.random(n_products) < NO_CATEGORY_SHARE
    no_category[quirky[1]] = True
    no_category[quirky[0]] = False
    category[no_category] = None

    def ints(values, missing):
        return pd.arrays.IntegerArray(np.where(missing, 0, values).astype("int64"), np.asarray(missing, bool))

    weight_g = np.clip(np.round(rng.lognormal(np.log(700), 1.2, n_products), -1), 50, 40000)
    dims = np.clip(np.round(rng.lognormal(np.log([25, 13, 20]), 0.45, (n_products, 3))), [7, 2, 6], 105)
    no_dims = np.zeros(n_products, bool)
    no_dims[quirky[2]] = True  # real: 2 products lack weight and dimensions
    products = pd.DataFrame({
        "product_id": ids,
        "product_category_name": category,
        "product_name_lenght": ints(np.clip(rng.normal(48, 10, n_products), 5, 76).round(), no_category),
        "product_description_lenght": ints(np.clip(rng.lognormal(np.log(600), 0.7, n_products), 4, 3992).round(),
                                           no_category),
        "product_photos_qty": ints(rng.geometric(0.55, n_products), no_category),
        "product_weight_g": ints(weight_g, no_dims),
        "product_length_cm": ints(dims[:, 0], no_dims),
        "product_height_cm": ints(dims[:, 1], no_dims),
        "product_width_cm": ints(dims[:, 2], no_dims),
    })
    # Prices end like shop prices do (58.9, 199, 12.99, 34.5).
    price = np.floor(np.clip(rng.lognormal(np.log(75), 0.85, n_products), 6, 3000))
    price = np.round(price - rng.choice([0.1, 0.01, 0.0, 0.5], n_products, p=[0.45, 0.3, 0.15, 0.1]), 2)
    freight = 9 + 2.5 * np.sqrt(weight_g / 1000) * rng.lognormal(0, 0.3, n_products)
    return products, weights, price, freight


def _sellers(rng, n_sellers):
    place = rng.choice(len(PLACES), n_sellers, p=_place_p(seller=True))
    ids = _hex_ids(rng, n_sellers)
    zips, cities, states = _addresses(rng, place)
    return pd.DataFrame({"seller_id": ids, "seller_zip_code_prefix": zips, "seller_city": cities,
                         "seller_state": states})


def _place_p(seller: bool) -> np.ndarray:
    weights = np.array([p[4] for p in PLACES], float)
    if seller:  # sellers cluster in Sao Paulo state even more than customers do
        weights = weights * np.array([3.0 if p[1] == "SP" else 1.0 for p in PLACES])
    return weights / weights.sum()


def _addresses(rng, place):
    base = np.array([p[2] for p in PLACES])[place]
    span = np.array([p[3] for p in PLACES])[place]
    zips = np.char.zfill((base + (rng.random(len(place)) * span).astype(int)).astype(str), 5)
    return zips, np.array([p[0] for p in PLACES])[place], np.array([p[1] for p in PLACES])[place]


def demo_tables(*, n_products: int = 300, n_days: int | None = None, start: str = DEFAULT_START,
                end: str | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the demo Olist tables in memory (see the module docstring for what they imitate).

    Args:
        n_products: catalog size; order volume scales with it (about 0.12 orders per product per day at full size).
        n_days: length of the purchase window from `start`; when None the window runs from `start` to `end`.
        start: first purchase date (default the real first purchase date, 2016-09-04).
        end: last purchase date (default the real last purchase date, 2018-10-17); ignored when `n_days` is given.
        seed: seed of the single random generator; the same arguments give the same tables.

    Returns:
        Table name (Kaggle file stem, e.g. `olist_orders_dataset`) -> DataFrame with the Kaggle columns, timestamps
        as `datetime64[s]` (missing ones NaT).
    """
    if n_products < 10:
        raise ValueError(f"n_products={n_products} is too small for the demo's quirks (uncategorised product, "
                         f"untranslated category, ...): use n_products >= 10")
    rng = np.random.default_rng(seed)
    first, n_days = _window(start, end, n_days)
    day = np.arange(n_days)
    dates = first + day
    snapshot = (first + n_days).astype("datetime64[s]").astype("int64")  # data cut at the end of the last day

    products, weights, price, freight = _products(rng, n_products)
    n_sellers = max(3, n_products // 4)
    sellers = _sellers(rng, n_sellers)
    seller_weight = 1.0 / np.arange(1, n_sellers + 1) ** 0.9
    product_seller = rng.choice(n_sellers, n_products, p=seller_weight / seller_weight.sum())

    # Catalog dynamics: half the products are listed from the start, the others launch during the first 75% of the
    # window; 15% retire later. A weekly AR(1) drift on the log scale moves each product's demand slowly.
    launch = np.where(rng.random(n_products) < 0.5, 0, rng.integers(0, int(0.75 * n_days), n_products))
    retire = np.where(rng.random(n_products) < 0.15,
                      launch + int(0.15 * n_days) + rng.integers(0, n_days, n_products), n_days)
    active = (day[:, None] >= launch[None, :]) & (day[:, None] < retire[None, :])
    n_weeks = n_days // 7 + 1
    drift = np.empty((n_weeks, n_products))
    drift[0] = rng.normal(0, 0.35, n_products)
    shocks = rng.normal(0, 0.35 * np.sqrt(1 - 0.9 ** 2), (n_weeks, n_products))
    for week in range(1, n_weeks):
        drift[week] = 0.9 * drift[week - 1] + shocks[week]
    intensity = weights[None, :] * active * np.exp(drift[day // 7] - 0.35 ** 2 / 2)
    catalog_mass = intensity.sum(axis=1) / weights.sum()

    # Daily order rate: catalog mass x logistic growth x weekday x Black Friday x near-empty edges x day noise.
    # Logistic ramp then plateau, placed like Olist's (midpoint 31% into the window, 2017-05 in the real one), so a
    # short window still has the whole shape.
    growth = 0.03 + 0.97 / (1 + np.exp(-(day - 0.31 * n_days) / (0.09 * n_days)))
    weekday = WEEKDAY_FACTOR[(dates.astype("int64") + 3) % 7]  # 1970-01-01 was a Thursday (weekday 3)
    event = np.ones(n_days)
    for year in range(int(str(dates[0])[:4]), int(str(dates[-1])[:4]) + 1):
        friday = np.datetime64(black_friday(year).date(), "D")
        for offset, lift in enumerate([6.0, 2.3, 1.9, 1.8, 1.7, 1.4]):
            event[dates == friday + offset] = lift
    head, tail = max(1, round(0.036 * n_days)), max(1, round(0.06 * n_days))
    edge = np.ones(n_days)
    edge[:head], edge[n_days - tail:] = 0.03, 0.01
    rate = 0.12 * n_products * catalog_mass * growth * weekday * event * edge * rng.gamma(40, 1 / 40, n_days)
    orders_per_day = rng.poisson(rate)
    order_day = np.repeat(day, orders_per_day)
    n_orders = len(order_day)
    purchase = (dates[order_day].astype("datetime64[s]").astype("int64")
                + rng.choice(24, n_orders, p=HOUR_SHARES / HOUR_SHARES.sum()) * 3600 + rng.integers(0, 3600, n_orders))
    order_sort = np.argsort(purchase, kind="stable")
    order_day, purchase = order_day[order_sort], purchase[order_sort]
    order_ids, customer_ids = _hex_ids(rng, n_orders), _hex_ids(rng, n_orders)

    # Payment type first: boleto is approved a day or two later, cards in minutes.
    pay_type = rng.choice(len(PAYMENT_TYPES[0]), n_orders, p=PAYMENT_TYPES[1])
    quick = (pay_type != 1) & (rng.random(n_orders) < 0.8)
    approve_lag = np.where(quick, rng.exponential(0.015, n_orders), rng.lognormal(np.log(0.9), 0.6, n_orders))
    approved = purchase + _seconds(approve_lag)
    carrier = approved + _seconds(rng.lognormal(np.log(2.2), 0.6, n_orders))
    delivered = carrier + _seconds(rng.lognormal(np.log(7.5), 0.55, n_orders))
    estimated_days = np.clip(np.round(rng.normal(24, 6, n_orders)), 3, None).astype("int64")
    estimated = (dates[order_day] + estimated_days).astype("datetime64[s]").astype("int64")

    names = list(STATUS_SHARES)
    shares = np.array(list(STATUS_SHARES.values()))
    status = np.array(names)[rng.choice(len(names), n_orders, p=shares / shares.sum())]
    # An order cannot be delivered after the snapshot: it is still on its way (or not yet shipped).
    status = np.where((status == "delivered") & (delivered >= snapshot),
                      np.where(carrier < snapshot, "shipped", "processing"), status)
    status = np.where(np.isin(status, ["shipped"]) & (carrier >= snapshot), "processing", status)
    status = np.where(approved >= snapshot, "created", status)
    u = rng.random((n_orders, 3))
    canceled = status == "canceled"
    no_approval = (status == "created") | (canceled & (u[:, 0] < 0.23))
    no_carrier = ~np.isin(status, ["delivered", "shipped"]) & ~(canceled & (u[:, 1] < 0.12))
    no_delivery = (status != "delivered") & ~(canceled & (u[:, 2] < 0.01))
    no_delivery |= (status == "delivered") & (rng.random(n_orders) < 1e-4)  # real: 8 delivered orders lack the date
    # Nothing is recorded after the snapshot (this only bites canceled orders that keep a carrier/delivery date).
    no_approval |= approved >= snapshot
    no_carrier |= carrier >= snapshot
    no_delivery |= delivered >= snapshot
    orders = pd.DataFrame({
        "order_id": order_ids, "customer_id": customer_ids, "order_status": status,
        "order_purchase_timestamp": _timestamps(purchase),
        "order_approved_at": _timestamps(approved, no_approval),
        "order_delivered_carrier_date": _timestamps(carrier, no_carrier),
        "order_delivered_customer_date": _timestamps(delivered, no_delivery),
        "order_estimated_delivery_date": _timestamps(estimated),
    })

    # Items: unavailable (and some canceled) orders have none; otherwise 1-6 rows, products drawn with the day's
    # popularity (inverse CDF on each day's cumulative weights, all days in one searchsorted).
    no_items_p = {"unavailable": 0.99, "canceled": 0.26, "created": 1.0, "invoiced": 0.006}
    has_items = rng.random(n_orders) >= pd.Series(status).map(no_items_p).fillna(0.0).to_numpy()
    rows = np.where(has_items, rng.choice(len(ROWS_PER_ORDER), n_orders, p=ROWS_PER_ORDER) + 1, 0)
    item_order = np.repeat(np.arange(n_orders), rows)
    item_number = np.arange(len(item_order)) - np.repeat(np.cumsum(rows) - rows, rows) + 1
    cumulative = np.cumsum(intensity, axis=1)
    cumulative /= np.maximum(cumulative[:, -1:], 1e-300)
    cumulative[:, -1] = 1.0
    flat = (cumulative + day[:, None]).ravel()
    item_day = order_day[item_order]
    draw = np.searchsorted(flat, item_day + rng.random(len(item_order)) * (1 - 1e-12), side="right")
    item_product = np.minimum(draw - item_day * n_products, n_products - 1)
    first_row = np.repeat(np.cumsum(rows) - rows, rows)
    repeat = (item_number > 1) & (rng.random(len(item_order)) < SAME_PRODUCT_SHARE)
    item_product = np.where(repeat, item_product[first_row], item_product)
    item_price = price[item_product]
    item_freight = np.round(freight[item_product] * rng.uniform(0.85, 1.15, len(item_order)), 2)
    shipping_base = np.where(no_approval, purchase, approved)[item_order]
    shipping_limit = shipping_base + 86400 * rng.choice([2, 3, 4, 5, 6, 7, 8], len(item_order),
                                                        p=[0.03, 0.07, 0.1, 0.15, 0.4, 0.2, 0.05])
    items = pd.DataFrame({
        "order_id": order_ids[item_order], "order_item_id": item_number,
        "product_id": products["product_id"].to_numpy()[item_product],
        "seller_id": sellers["seller_id"].to_numpy()[product_seller[item_product]],
        "shipping_limit_date": _timestamps(shipping_limit), "price": item_price, "freight_value": item_freight,
    }).sort_values(["order_id", "order_item_id"], kind="stable").reset_index(drop=True)

    # Payments: the order total (or an invented one for orders without items); 3% pay part with a voucher.
    total = np.bincount(item_order, weights=item_price + item_freight, minlength=n_orders)
    total = np.where(rows > 0, total, np.round(rng.lognormal(np.log(100), 0.8, n_orders), 2))
    installments = np.where(pay_type == 0, rng.choice(INSTALLMENTS[0], n_orders, p=INSTALLMENTS[1]), 1)
    split = (rng.random(n_orders) < 0.03) & (pay_type != 2)
    voucher_part = np.round(total * rng.uniform(0.1, 0.6, n_orders), 2)
    payments = pd.concat([
        pd.DataFrame({"order_id": order_ids, "payment_sequential": 1,
                      "payment_type": np.array(PAYMENT_TYPES[0])[pay_type], "payment_installments": installments,
                      "payment_value": np.round(np.where(split, total - voucher_part, total), 2)}),
        pd.DataFrame({"order_id": order_ids[split], "payment_sequential": 2, "payment_type": "voucher",
                      "payment_installments": 1, "payment_value": voucher_part[split]}),
    ]).sample(frac=1.0, random_state=rng.integers(2 ** 31)).reset_index(drop=True)

    # Customers: one customer_id per order (as in Olist); about 3% of people buy again (customer_unique_id).
    people = _hex_ids(rng, n_orders)
    returning = rng.random(n_orders) < 0.03
    people[returning] = people[rng.integers(0, n_orders, returning.sum())]
    zips, cities, states = _addresses(rng, rng.choice(len(PLACES), n_orders, p=_place_p(seller=False)))
    customers = pd.DataFrame({"customer_id": customer_ids, "customer_unique_id": people,
                              "customer_zip_code_prefix": zips, "customer_city": cities, "customer_state": states})

    reviews = _reviews(rng, order_ids, status, purchase, delivered, no_delivery, estimated, snapshot)
    translation = pd.DataFrame([(c, en) for c, (en, _) in CATEGORIES.items() if en is not None],
                               columns=OLIST_COLUMNS["product_category_name_translation"])
    tables = {
        "olist_orders_dataset": orders, "olist_order_items_dataset": items, "olist_order_reviews_dataset": reviews,
        "olist_products_dataset": products, "product_category_name_translation": translation,
        "olist_customers_dataset": customers, "olist_sellers_dataset": sellers,
        "olist_order_payments_dataset": payments,
    }
    return {name: tables[name][OLIST_COLUMNS[name]] for name in OLIST_COLUMNS}


def _reviews(rng, order_ids, status, purchase, delivered, no_delivery, estimated, snapshot):
    """One review per order (0.5% get a second one), created at midnight 1-10 days after delivery (undelivered
    orders: 1-4 weeks after purchase); reviews the customer could not have written by the snapshot are absent."""
    n = len(order_ids)
    day_seconds = 86400
    was_delivered = ~no_delivery
    after_delivery = (delivered // day_seconds + 1 + np.minimum(rng.poisson(1.2, n), 9)) * day_seconds
    after_purchase = (purchase // day_seconds + rng.integers(7, 29, n)) * day_seconds
    created = np.where(was_delivered, after_delivery, after_purchase)
    bad = ~was_delivered | (delivered > estimated + day_seconds)
    # Mix so that the overall shares match the real skew: good = (target - f * bad_dist) / (1 - f).
    f = bad.mean() if n else 0.0
    good_p = np.clip(SCORE_TARGET - f * SCORE_WHEN_BAD, 1e-6, None)
    good_p /= good_p.sum()
    u = rng.random(n)
    score = 1 + np.minimum(4, np.where(bad, np.searchsorted(np.cumsum(SCORE_WHEN_BAD), u, side="right"),
                                       np.searchsorted(np.cumsum(good_p), u, side="right")))
    keep = (created < snapshot) & (rng.random(n) >= 0.002)
    second = keep & (rng.random(n) < 0.005)
    idx = np.concatenate([np.flatnonzero(keep), np.flatnonzero(second)])
    created_all = np.concatenate([created[keep], created[second] + day_seconds * rng.integers(1, 15, second.sum())])
    score_all = np.concatenate([score[keep], rng.integers(1, 6, second.sum())])
    m = len(idx)
    text_pick = rng.random(m)
    titles = np.full(m, None, dtype=object)
    messages = np.full(m, None, dtype=object)
    for s, options in REVIEW_TEXTS.items():
        at = np.flatnonzero(score_all == s)
        choice = (text_pick[at] * len(options)).astype(int)
        has_message = rng.random(len(at)) < (0.85 if s <= 2 else 0.35)  # unhappy customers write more
        has_title = has_message & (rng.random(len(at)) < 0.3)
        for k, (title, message) in enumerate(options):
            sel = at[(choice == k)]
            sel_msg, sel_title = has_message[choice == k], has_title[choice == k]
            messages[sel[sel_msg]] = message
            if title is not None:
                titles[sel[sel_title]] = title
    answered = created_all + day_seconds * rng.integers(0, 4, m) + rng.integers(3600, 86400, m)
    order = rng.permutation(m)
    return pd.DataFrame({
        "review_id": _hex_ids(rng, m), "order_id": order_ids[idx], "review_score": score_all.astype("int64"),
        "review_comment_title": titles, "review_comment_message": messages,
        "review_creation_date": _timestamps(created_all), "review_answer_timestamp": _timestamps(answered),
    }).iloc[order].reset_index(drop=True)


def _csv_bytes(name: str, frame: pd.DataFrame) -> bytes:
    if name == "product_category_name_translation":  # the real file: UTF-8 BOM and CRLF line ends
        return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    frame = frame.copy()
    for column in frame.columns[frame.dtypes.map(pd.api.types.is_datetime64_any_dtype).to_numpy()]:
        values = frame[column].to_numpy()  # numpy formats ~4x faster than strftime; NaT -> empty field
        text = np.char.replace(np.datetime_as_string(values, unit="s"), "T", " ")
        frame[column] = np.where(np.isnat(values), None, text)
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_demo_tables(folder: str | Path, *, n_products: int = 300, n_days: int | None = None,
                      start: str = DEFAULT_START, end: str | None = None, seed: int = 0,
                      compress: bool = False) -> dict[str, Path]:
    """Generate the demo Olist tables and write them into `folder` under their Kaggle file names.

    Each file is written atomically (temporary name, then rename); the marker `DEMO_DATA.txt` is written last, so a
    folder with the marker holds a complete set. A stale copy of a table in the other format (`.csv` vs `.csv.gz`)
    is removed, so that readers preferring `.csv` never pick up an old file.

    Args:
        folder: destination (created if missing).
        n_products, n_days, start, end, seed: see `demo_tables`. The default window is the real one
            (2016-09-04 .. 2018-10-17, 774 days), so Black Friday 2017 and the near-empty edge months fall where
            they do in Olist; pass `n_days=730` for a two-year window from `start`.
        compress: write `.csv.gz` (gzip without a time stamp, so still byte-reproducible) instead of `.csv`.

    Returns:
        Table name (Kaggle file stem) -> path of the written file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = demo_tables(n_products=n_products, n_days=n_days, start=start, end=end, seed=seed)
    suffix = ".csv.gz" if compress else ".csv"
    written = {}
    for name, frame in tables.items():
        data = _csv_bytes(name, frame)
        if compress:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        path = folder / f"{name}{suffix}"
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
        for other in TABLE_SUFFIXES:
            if other != suffix:
                (folder / f"{name}{other}").unlink(missing_ok=True)
        written[name] = path
    orders = tables["olist_orders_dataset"]["order_purchase_timestamp"]
    params = {"n_products": n_products, "n_days": n_days, "start": start, "end": end, "seed": seed,
              "compress": compress, "orders": len(orders),
              "purchases": [str(orders.min()), str(orders.max())] if len(orders) else None}
    with atomic_path(folder / MARKER_FILE) as tmp:
        Path(tmp).write_text(
            f"{demo_banner()}\n\nThe tables in this folder were GENERATED by salesgan_utils.demo.write_demo_tables.\n"
            f"They have the Kaggle Olist file names, columns and formats, but every value is invented.\n"
            f"Parameters: {json.dumps(params)}\n", encoding="utf-8")
    return written
