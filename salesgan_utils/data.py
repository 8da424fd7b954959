"""The data layer: Olist tables (read and validated by `olist`) -> sale lines -> a dense entity x day panel with
features and scaling.

Rules (also in the README, "Data rules"):

* **What counts as a sale.** An order counts when its status is one of `SALE_STATUSES` (delivered, shipped,
  invoiced, processing, approved): the customer bought and the order is being or was fulfilled. `canceled` and
  `unavailable` orders are not sales. `created` orders (5 in the real data) were never approved and are not
  counted either. Every excluded order is counted by status in the data report.
* **Units and revenue.** Each row of `order_items` is one unit (Olist repeats the row for quantity > 1), so units =
  item rows and revenue = sum of `price`. Items whose order is not a sale, or not in the orders table, are dropped
  and counted.
* **Date.** A sale is dated by `order_purchase_timestamp` (the moment demand happened), at day resolution.
* **Timeline trim.** Olist's first and last months are near-empty (2016-09: 4 orders ... 2018-10: 4). Leading and
  trailing calendar months with fewer sale orders than `trim_share` (default 10%) of the median month are cut;
  months inside the kept range are never cut. The panel ends on the last day with a sale inside the kept months
  (later days are unobserved, not zero-sale days). On the real tables: 2017-01-01 .. 2018-08-29.
* **Plausible dates.** Orders dated outside `plausible_span` (the 5th..95th percentile of the purchase dates widened
  by its own width on each side, at least 90 days) are dropped, counted and warned about: typo years (2071) cannot
  stretch the timeline, and up to 5% of them cannot move the span.
* **Ambiguity** is an error listing the candidates (a table as both `.csv` and `.csv.gz`; several datasets under
  one folder: `paths`). Prices with a decimal comma or a currency mark are read by the rule in `parse_prices`
  and counted; unparsable ones are counted and, above 1%, warned about.
* **Entities.** `product` (product_id) or `category` (English name from the translation table; products with no
  category -> `unknown`; categories missing from the translation keep their Portuguese name).
* **Panel.** One cell per entity and day, zero-filled from the entity's first sale to the END of the panel (its last
  sale would be future knowledge). Days split by global date into train / val / test by fractions.
* **Filters use the train period only**: an entity is kept when its train-period units >= max(1, min_train_units)
  and, with `top_n` > 0, it is among the top_n by train units (ties by entity id). Entities sort by id, never by
  first appearance, so future orders cannot reorder them.
* **Scaling.** Per entity, min-max with the train-period min and max (range 1 where max == min); saved in metadata.
* **Reviews** (optional table): a review belongs to every product of its order and is known from its
  `review_creation_date` (reviews are written after delivery, not at purchase). Features at day t use only
  reviews created on or before t. Without the table the features are zero and `reviews_available` is 0.
* **Repairs** (counted in the report): duplicate rows dropped; rows with unparsable or missing purchase timestamps
  dropped; items with missing or negative price keep their unit but add no revenue; orders without items have no
  sales (counted); a UTF-8 BOM is stripped and CRLF line ends read as usual (both listed by file name).
  Everything else (a missing table or column, an empty or truncated file, no sale order, no entity left) is a
  `DataError` naming the file or column and the fix: docs/bad_inputs.md lists every case.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .olist import TABLES, OlistTables
from .paths import DataError, table_path
from .repairs import RepairRule, bounded_counts

SALE_STATUSES = ("delivered", "shipped", "invoiced", "processing", "approved")
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
ADI_CUTOFF, CV2_CUTOFF = 1.32, 0.49  # Syntetos, Boylan & Croston (2005)
# Feature names of the calendar of the target days and of the reviews known at the origin (one owner: here).
CALENDAR_NAMES = tuple(f"dow_{d}" for d in range(7)) + ("weekend", "holiday", "black_friday")
REVIEW_NAMES = ("review_score_mean", "review_count_log", "reviews_available")


def scaled_from_units(units: np.ndarray, scale_min: np.ndarray, scale_range: np.ndarray) -> np.ndarray:
    """Per-entity min-max scaling `(units - scale_min) / scale_range`; rows of `units` are entities or windows."""
    units = np.asarray(units)
    extra = (1,) * (units.ndim - 1)
    return (units - np.reshape(scale_min, (-1, *extra))) / np.reshape(scale_range, (-1, *extra))


def units_from_scaled(scaled: np.ndarray, scale_min: np.ndarray, scale_range: np.ndarray) -> np.ndarray:
    """The exact inverse of `scaled_from_units`, in float64: (N, ...) scaled values back to units."""
    scaled = np.asarray(scaled, dtype=np.float64)
    extra = (1,) * (scaled.ndim - 1)
    return scaled * np.reshape(scale_range, (-1, *extra)) + np.reshape(scale_min, (-1, *extra))


def review_features_at(count: np.ndarray, score_sum: np.ndarray, available: bool) -> np.ndarray:
    """(..., 3) float32 review features from cumulative review counts and score sums (any shape).

    Mean score / 5, log1p(count) and the availability flag, in the order of `REVIEW_NAMES`.
    """
    out = np.empty((*np.shape(count), len(REVIEW_NAMES)), dtype=np.float32)
    out[..., 0] = score_sum / np.maximum(count, 1.0) / 5.0
    out[..., 1] = np.log1p(count)
    out[..., 2] = float(available)
    return out

# --------------------------------------------------------------------------------------------------- sales
def entity_names(tables: OlistTables, entity: str) -> pd.Series:
    """product_id -> entity id, for `entity` in {"product", "category"}."""
    if entity == "product":
        return pd.Series(tables.products["product_id"].values, index=tables.products["product_id"].values)
    if entity == "category":
        english = dict(zip(tables.translation["product_category_name"],
                           tables.translation["product_category_name_english"]))
        portuguese = tables.products["product_category_name"]
        names = portuguese.map(english).fillna(portuguese).fillna("unknown")
        return pd.Series(names.values, index=tables.products["product_id"].values)
    raise DataError(f"parameter entity = {entity!r} is not one of 'product', 'category'")


def trim_timeline(order_days: pd.Series, trim_share: float = 0.1) -> tuple[pd.Timestamp, pd.Timestamp, list]:
    """First and last day kept after cutting near-empty leading/trailing months (see module docstring).

    Args:
        order_days: purchase timestamps (or days) of sale orders.
        trim_share: a month is near-empty when it has fewer orders than this share of the median month.

    Returns:
        (first day, last day, list of cut months as 'YYYY-MM').
    """
    if order_days.empty:
        raise DataError("no sale orders left: every order is canceled, unavailable or created, or has no valid "
                        "purchase timestamp. Check olist_orders_dataset (order_status, order_purchase_timestamp).")
    months = order_days.dt.to_period("M")
    counts = months.value_counts().sort_index()
    counts = counts.reindex(pd.period_range(counts.index.min(), counts.index.max(), freq="M"), fill_value=0)
    full = counts.to_numpy() >= trim_share * float(np.median(counts.to_numpy()))
    kept = np.flatnonzero(full)
    first, last = kept[0], kept[-1]
    cut = [str(p) for p in counts.index[:first]] + [str(p) for p in counts.index[last + 1:]]
    return counts.index[first].start_time.normalize(), counts.index[last].end_time.normalize(), cut


def sale_lines(tables: OlistTables, entity: str = "product", trim_share: float = 0.1,
               rule: RepairRule | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per sold item: entity_id, day, price; within the trimmed timeline.

    Sold items of a product the products table does not know are dropped at product level (they have no entity)
    by the repair rule (`repairs.RepairRule`): counted, loud above its warning share, an error above its error
    share (the best sellers must not vanish silently); at category level they count as `unknown`.

    Returns:
        (lines, facts) where facts holds the timeline and counts for the data report.
    """
    orders = tables.orders
    is_sale = orders["order_status"].isin(SALE_STATUSES)
    sale_orders = orders.loc[is_sale, ["order_id", "order_purchase_timestamp"]]
    if sale_orders.empty:
        statuses = bounded_counts(orders["order_status"].value_counts().to_dict())
        statuses = statuses or "none (no order with a valid order_purchase_timestamp)"
        orders_file = table_path(tables.folder, TABLES["orders"][0]) or tables.folder
        raise DataError(
            f"no sale orders left: no order in {orders_file} counts as a sale: order_status counts are {statuses}, "
            f"and a sale needs one of {', '.join(SALE_STATUSES)} with a valid order_purchase_timestamp. Point "
            f"data_dir at the full Olist dataset (olistbr/brazilian-ecommerce), or fix the order_status column.")
    start, month_end, cut = trim_timeline(sale_orders["order_purchase_timestamp"], trim_share)
    # The panel ends on the last day with a sale inside the kept months, not on the month's last day: days after
    # the data snapshot are unobserved, and zero-filling them would invent zero-sale days in the test split.
    sale_days = sale_orders["order_purchase_timestamp"].dt.normalize()
    end = sale_days[sale_days.between(start, month_end)].max()
    lines = tables.items[["order_id", "product_id", "price"]].merge(sale_orders, on="order_id", how="inner")
    lines["day"] = lines["order_purchase_timestamp"].dt.normalize()
    in_range = lines["day"].between(start, end)
    names = entity_names(tables, entity)
    lines["entity_id"] = lines["product_id"].map(names)
    if entity == "category":
        lines["entity_id"] = lines["entity_id"].fillna("unknown")
    not_sales = orders.loc[~is_sale, "order_status"].value_counts()
    facts = {
        "orders_not_counted_as_sales": bounded_counts({s: int(not_sales[s]) for s in sorted(not_sales.index)}),
        "timeline_first_day": str(start.date()), "timeline_last_day": str(end.date()), "timeline_months_cut": cut,
        "timeline_days_after_last_sale_not_filled": int((month_end - end).days),
        "items_outside_timeline_dropped": int((~in_range).sum()),
    }
    unknown = lines["entity_id"].isna() & in_range
    (rule or RepairRule()).note(
        facts, "items_with_unknown_product_dropped", int(unknown.sum()), int(in_range.sum()),
        tag="PRODUCTS UNKNOWN", unit="sold items",
        where=str(tables.products.attrs.get("path", "the products table")),
        what="name a product_id that the products table lacks",
        sample=lines.loc[unknown, "product_id"].head(3).tolist(),
        consequence="they are dropped (no entity)",
        fix="Check that the items and products files come from the same download.")
    lines = lines.loc[in_range & lines["entity_id"].notna(), ["entity_id", "product_id", "order_id", "day", "price"]]
    facts["sale_items"] = int(len(lines))
    return lines.reset_index(drop=True), facts


# --------------------------------------------------------------------------------------------------- panel
def black_friday(year: int) -> pd.Timestamp:
    """The day after the fourth Thursday of November (Black Friday, observed in Brazil too)."""
    first = pd.Timestamp(year=year, month=11, day=1)
    first_thursday = first + pd.Timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + pd.Timedelta(days=22)


def calendar_features(dates: pd.DatetimeIndex) -> tuple[np.ndarray, list]:
    """(T, 10) float32: day-of-week one-hot (Monday = 0), weekend, Brazilian national holiday, Black Friday."""
    import holidays  # maintained holiday tables: better than a hand-kept list of Brazilian dates

    dow = dates.dayofweek.to_numpy()
    features = np.zeros((len(dates), 10), dtype=np.float32)
    features[np.arange(len(dates)), dow] = 1.0
    features[:, 7] = dow >= 5
    years = sorted(set(dates.year))
    national = holidays.Brazil(years=years)
    features[:, 8] = [d in national for d in dates.date]
    fridays = {black_friday(y) for y in years}
    features[:, 9] = dates.isin(list(fridays))
    return features, list(CALENDAR_NAMES)


def demand_stats(units: np.ndarray, first_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Syntetos-Boylan ADI and CV^2 per row of daily units, counted from each row's `first_day` to the end.

    ADI = days / days with demand; CV^2 = (std / mean)^2 of the non-zero demand sizes (population std).
    A row without demand has infinite ADI and CV^2 0.
    """
    # Days before first_day are zero by construction, so plain row sums count only the valid days.
    n_days = units.shape[1] - np.asarray(first_day)
    n_demand = np.count_nonzero(units, axis=1)
    total = units.sum(axis=1, dtype=np.float64)
    squares = np.einsum("ij,ij->i", units, units, dtype=np.float64)
    safe = np.maximum(n_demand, 1)
    adi = np.where(n_demand > 0, n_days / safe, np.inf)
    mean = total / safe
    cv2 = np.where(n_demand > 0, np.maximum(squares / safe - mean ** 2, 0.0) / np.maximum(mean, 1e-12) ** 2, 0.0)
    return adi, cv2


def demand_class(units: np.ndarray, first_day: np.ndarray) -> np.ndarray:
    """Syntetos-Boylan class per row: 0 smooth (ADI < 1.32, CV^2 < 0.49), 1 erratic (ADI < 1.32),
    2 intermittent (CV^2 < 0.49), 3 lumpy; a row without demand is intermittent (see `demand_stats`)."""
    adi, cv2 = demand_stats(units, first_day)
    return ((adi >= ADI_CUTOFF).astype(np.int8) * 2 + (cv2 >= CV2_CUTOFF).astype(np.int8)).astype(np.int8)


@dataclass
class Panel:
    """Dense entity x day arrays over the kept timeline; cells before an entity's first sale are not part of it.

    Attributes:
        entity_ids: (E,) entity names, sorted.
        dates: (T,) datetime64[D] days of the panel.
        units, revenue: (E, T) float32 daily units and revenue (0 before the first sale, too).
        first_day: (E,) int index of each entity's first sale.
        train_end, val_end: day indices: train = [0, train_end), val = [train_end, val_end), test = [val_end, T).
        calendar: (T, C) float32 calendar features; calendar_names their names.
        review_count, review_score_sum: (E, T) float32 cumulative counts / score sums of reviews created on or
            before each day (zeros without reviews); reviews_available: whether the table existed.
        scale_min, scale_range, naive_mae, naive_mse: (E,) train-period statistics (units).
        demand_class: (E,) int8 Syntetos-Boylan class on train.
        report: counts for the data report.
    """

    entity_ids: np.ndarray
    dates: np.ndarray
    units: np.ndarray
    revenue: np.ndarray
    first_day: np.ndarray
    train_end: int
    val_end: int
    calendar: np.ndarray
    calendar_names: list
    review_count: np.ndarray
    review_score_sum: np.ndarray
    reviews_available: bool
    scale_min: np.ndarray
    scale_range: np.ndarray
    naive_mae: np.ndarray
    naive_mse: np.ndarray
    demand_class: np.ndarray
    entity: str = "product"
    report: dict = field(default_factory=dict)

    @property
    def n_entities(self) -> int:
        return len(self.entity_ids)

    def split_of_day(self) -> np.ndarray:
        split = np.full(len(self.dates), "test", dtype=object)
        split[: self.train_end] = "train"
        split[self.train_end: self.val_end] = "val"
        return split

    def split_dates(self) -> dict:
        d = pd.to_datetime(self.dates)
        return {"train_start": str(d[0].date()), "train_end": str(d[self.train_end - 1].date()),
                "val_start": str(d[self.train_end].date()), "val_end": str(d[self.val_end - 1].date()),
                "test_start": str(d[self.val_end].date()), "test_end": str(d[-1].date())}

    def review_features(self) -> tuple[np.ndarray, list]:
        """(E, T, 3) float32: mean score / 5, log1p(count), availability flag, from reviews created by that day."""
        return (review_features_at(self.review_count, self.review_score_sum, self.reviews_available),
                list(REVIEW_NAMES))

    def to_frame(self) -> pd.DataFrame:
        """The long panel: one row per entity and day from its first sale to the end, with split and features."""
        n_days = len(self.dates)
        keep = np.arange(n_days)[None, :] >= self.first_day[:, None]
        rows_e, rows_t = np.nonzero(keep)
        reviews, review_names = self.review_features()
        frame = pd.DataFrame({
            "entity_id": self.entity_ids[rows_e],
            "date": self.dates[rows_t].astype("datetime64[ns]"),
            "units": self.units[rows_e, rows_t],
            "revenue": self.revenue[rows_e, rows_t],
            "split": self.split_of_day()[rows_t],
        })
        for j, name in enumerate(self.calendar_names):
            frame[name] = self.calendar[rows_t, j]
        for j, name in enumerate(review_names):
            frame[name] = reviews[rows_e, rows_t, j]
        frame["scaled"] = scaled_from_units(frame["units"].to_numpy(), self.scale_min[rows_e],
                                            self.scale_range[rows_e]).astype(np.float32)
        return frame

    def scaling_table(self) -> pd.DataFrame:
        return pd.DataFrame({"entity_id": self.entity_ids, "scale_min": self.scale_min,
                             "scale_range": self.scale_range, "naive_mae": self.naive_mae,
                             "naive_mse": self.naive_mse,
                             "demand_class": np.asarray(DEMAND_CLASSES)[self.demand_class],
                             "first_day": self.dates[self.first_day].astype(str)})


def split_indices(n_days: int, train_fraction: float, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(train_end, val_end) day indices for a global chronological split by fractions of the days."""
    total = train_fraction + val_fraction + test_fraction
    if abs(total - 1.0) > 1e-9 or min(train_fraction, val_fraction, test_fraction) <= 0:
        raise DataError(f"split fractions train_fraction={train_fraction}, val_fraction={val_fraction}, "
                        f"test_fraction={test_fraction} must be positive and sum to 1 (they sum to {total:g}).")
    train_end = int(np.floor(n_days * train_fraction))
    val_end = train_end + int(np.floor(n_days * val_fraction))
    return train_end, val_end


def fold_split(n_days: int, train_fraction: float, val_fraction: float, test_fraction: float, fold: int = 0,
               spacing_days: int = 0) -> tuple[int, int, int]:
    """(train_end, val_end, end) day indices of rolling-origin fold `fold`: fold 0 is the split by fractions
    (`split_indices`, ending on the last day); fold k moves every boundary back by k x `spacing_days`, keeping the
    validation and test lengths, and its panel ends on its test end (later days do not exist for the fold).
    """
    train_end, val_end = split_indices(n_days, train_fraction, val_fraction, test_fraction)
    shift = int(fold) * int(spacing_days)
    if fold < 0 or (fold > 0 and spacing_days < 1) or train_end - shift < 1:
        raise DataError(f"parameters backtest_folds/backtest_spacing_days: fold {fold} with spacing "
                        f"{spacing_days} days leaves no train day (the train period of fold 0 has {train_end} "
                        f"days). Use fewer folds or a smaller backtest_spacing_days (>= 1 when folds > 1).")
    return train_end - shift, val_end - shift, n_days - shift


def _seasonal_naive_scale(units: np.ndarray, first_day: np.ndarray, train_end: int, season: int = 7):
    """In-sample seasonal-naive MAE and MSE per entity on its train days (units).

    Falls back to the lag-1 naive where an entity has under season + 1 train days, and to 1.0 where the errors are
    all zero, so that MASE/RMSSE stay finite (both fallbacks are counted in the report).
    """
    train = units[:, :train_end]

    def scale(lag):
        # Differences that reach before first_day compare a zero pad with a zero pad or with the first sale; only
        # pairs whose earlier day is on or after first_day are in-sample, so the pad pairs are subtracted out.
        diff = np.abs(train[:, lag:] - train[:, :-lag])
        valid = np.arange(lag, train_end)[None, :] - lag >= first_day[:, None]
        diff *= valid
        n = valid.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return diff.sum(axis=1, dtype=np.float64) / n, np.einsum("ij,ij->i", diff, diff, dtype=np.float64) / n

    mae, mse = scale(season)
    short = ~np.isfinite(mae)
    if short.any():
        mae1, mse1 = scale(1)
        mae[short], mse[short] = mae1[short], mse1[short]
    degenerate = ~np.isfinite(mae) | (mae <= 0)
    mae[degenerate], mse[degenerate] = 1.0, 1.0
    return mae, mse, int(short.sum()), int(degenerate.sum())


def build_panel(tables: OlistTables, *, entity: str = "product", train_fraction: float = 0.7,
                val_fraction: float = 0.15, test_fraction: float = 0.15, min_train_units: int = 1, top_n: int = 0,
                trim_share: float = 0.1, fold: int = 0, fold_spacing_days: int = 0, selection_days: int = 0,
                rule: RepairRule | None = None) -> Panel:
    """Build the leak-free dense panel (see the module docstring for every rule).

    Args:
        tables: loaded tables.
        entity: "product" or "category".
        train_fraction, val_fraction, test_fraction: chronological split of the days; must sum to 1.
        min_train_units: keep entities with at least this many train-period units (at least 1).
        top_n: keep only the top_n entities by train-period units (0 = all).
        trim_share: near-empty month threshold for the timeline trim.
        fold, fold_spacing_days: the rolling-origin fold (`fold_split`; 0 = the split by fractions).
        selection_days: rank entities for `top_n` by their units in the last `selection_days` train days
            (recent sales at the fold's train end; 0 = the whole train period).
        rule: the repair rule for sold items of unknown products (default `repairs.RepairRule()`).

    Returns:
        Panel.
    """
    lines, facts = sale_lines(tables, entity, trim_share, rule)
    start, end = pd.Timestamp(facts["timeline_first_day"]), pd.Timestamp(facts["timeline_last_day"])
    dates = pd.date_range(start, end, freq="D")
    train_end, val_end, n_days = fold_split(len(dates), train_fraction, val_fraction, test_fraction, fold,
                                            fold_spacing_days)
    dates = dates[:n_days]
    day_index = ((lines["day"] - start).dt.days).to_numpy()
    inside = day_index < n_days  # a fold's panel ends on its test end
    lines, day_index = lines[inside], day_index[inside]

    # Entity choice from train-period lines only: nothing after train_end can add, drop or reorder an entity.
    train_lines = day_index < train_end
    train_ids, train_codes = np.unique(lines["entity_id"].to_numpy()[train_lines].astype(str), return_inverse=True)
    train_units = np.bincount(train_codes, minlength=len(train_ids))
    recent = (day_index[train_lines] >= train_end - int(selection_days)) if selection_days else \
        np.ones(len(train_codes), bool)
    rank_units = np.bincount(train_codes[recent], minlength=len(train_ids))
    keep = train_units >= max(1, int(min_train_units))
    if top_n and top_n > 0:
        order = np.lexsort((train_ids, -rank_units))  # units (recent, or whole train) descending, ties by id
        top = np.zeros_like(keep)
        top[order[:top_n]] = True
        keep &= top
    entity_ids = train_ids[keep]
    if len(entity_ids) == 0:
        raise DataError(f"no entity left after the filters (entity={entity}, min_train_units={min_train_units}, "
                        f"top_n={top_n}): the train period {dates[0].date()}..{dates[train_end - 1].date()} has "
                        f"{int(train_units.max(initial=0))} units at most per entity. Lower min_train_units.")

    code = pd.Index(entity_ids).get_indexer(lines["entity_id"].astype(str))
    mine = code >= 0
    cell = code[mine] * n_days + day_index[mine]
    shape = (len(entity_ids), n_days)
    # float32 straight from the counts: whole units are exact in float32 and the panel is half the size.
    units = np.bincount(cell, minlength=shape[0] * shape[1]).astype(np.float32).reshape(shape)
    price = np.nan_to_num(lines["price"].to_numpy(dtype=np.float64)[mine])
    revenue = np.bincount(cell, weights=price, minlength=shape[0] * shape[1]).astype(np.float32).reshape(shape)
    if not np.isfinite(revenue).all():  # finite prices can still sum past float32's range in one cell
        raise DataError(f"daily revenue exceeds float32's range ({np.finfo(np.float32).max:.3g}) for some entity: "
                        f"prices in {tables.items.attrs.get('path', 'the items table')} reach {price.max():.3g}. "
                        f"Fix the price column (Olist prices are below 10,000).")
    first_day = np.argmax(units > 0, axis=1)

    # Train-period min and max over [first_day, train_end): days before first_day are zero pads, so the max is a
    # plain max and the min is 0 whenever a valid day has no sale (else the smallest sale).
    train_units = units[:, :train_end]
    scale_max = train_units.max(axis=1).astype(np.float64)
    has_zero_day = np.count_nonzero(train_units, axis=1) < (train_end - first_day)
    smallest_sale = np.where(train_units > 0, train_units, np.inf).min(axis=1).astype(np.float64)
    scale_min = np.where(has_zero_day, 0.0, smallest_sale)
    scale_range = np.where(scale_max > scale_min, scale_max - scale_min, 1.0)
    naive_mae, naive_mse, short, degenerate = _seasonal_naive_scale(units, first_day, train_end)
    classes = demand_class(train_units, first_day)

    # Without reviews the cumulative arrays are read-only zero views: no memory for E x T zeros.
    review_count = review_sum = np.broadcast_to(np.float32(0), shape)
    review_facts = {}
    if tables.reviews_available:
        review_count, review_sum, review_facts = _review_cumulatives(tables, lines, entity_ids, start, n_days)

    calendar, calendar_names = calendar_features(dates)
    report = dict(tables.report)
    report.update(facts)
    report.update(review_facts)
    report.update({
        "entity": entity, "entities_with_train_sales": int(len(train_ids)), "entities_kept": int(len(entity_ids)),
        **({"fold": int(fold), "selection_days": int(selection_days)} if fold or selection_days else {}),
        "days": n_days, "panel_cells": int((n_days - first_day).sum()),
        "zero_share": float(1 - np.count_nonzero(units) / max(1, int((n_days - first_day).sum()))),
        "units_in_panel": int(units.sum(dtype=np.float64)),
        "naive_scale_lag1_fallback": short, "naive_scale_degenerate_set_to_1": degenerate,
    })
    return Panel(entity_ids=entity_ids.astype(object), dates=dates.to_numpy().astype("datetime64[D]"),
                 units=units, revenue=revenue, first_day=first_day,
                 train_end=train_end, val_end=val_end, calendar=calendar, calendar_names=calendar_names,
                 review_count=review_count, review_score_sum=review_sum,
                 reviews_available=tables.reviews_available, scale_min=scale_min, scale_range=scale_range,
                 naive_mae=naive_mae, naive_mse=naive_mse, demand_class=classes, entity=entity, report=report)


def _review_cumulatives(tables: OlistTables, lines: pd.DataFrame, entity_ids: np.ndarray, start: pd.Timestamp,
                        n_days: int):
    """Cumulative review counts and score sums per entity and day, by review creation date (never purchase)."""
    links = lines[["order_id", "entity_id"]].drop_duplicates()
    reviews = tables.reviews[["order_id", "review_score", "review_creation_date"]].merge(links, on="order_id")
    day = (reviews["review_creation_date"].dt.normalize() - start).dt.days.to_numpy()
    code = pd.Index(entity_ids).get_indexer(reviews["entity_id"].astype(str))
    # A review created before the panel starts is known from day 0; one created after it ends is never used.
    usable = (code >= 0) & (day < n_days)
    day = np.clip(day[usable], 0, None)
    cell = code[usable] * n_days + day
    size = len(entity_ids) * n_days
    count = np.bincount(cell, minlength=size).reshape(len(entity_ids), n_days).cumsum(axis=1)
    score = np.bincount(cell, weights=reviews["review_score"].to_numpy(dtype=np.float64)[usable],
                        minlength=size).reshape(len(entity_ids), n_days).cumsum(axis=1)
    facts = {"reviews_linked_to_panel_entities": int(usable.sum())}
    return count.astype(np.float32), score.astype(np.float32), facts


def report_table(report: dict) -> pd.DataFrame:
    """The data report as a two-column table (nested counts flattened as `key.subkey`)."""
    rows = []
    for key, value in report.items():
        if isinstance(value, dict):
            rows.extend((f"{key}.{k}", ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
                        for k, v in value.items())
        elif isinstance(value, list):
            rows.append((key, ", ".join(map(str, value)) if value else "none"))
        else:
            rows.append((key, value))
    return pd.DataFrame(rows, columns=["check", "value"]).astype({"value": str})


def entity_zero_share(panel: Panel) -> np.ndarray:
    """(E,) share of each entity's days without a sale, from its first sale to the end of the panel."""
    valid = np.arange(len(panel.dates))[None, :] >= panel.first_day[:, None]
    return 1 - ((panel.units > 0) & valid).sum(axis=1) / valid.sum(axis=1)


def eda_summary(panel: Panel) -> dict:
    """Headline numbers of the panel for notebook 01 (deterministic: safe to compare in nbval)."""
    zero_share = entity_zero_share(panel)
    classes = np.bincount(panel.demand_class, minlength=4)
    return {"entities": panel.n_entities, "days": len(panel.dates), "units": int(panel.units.sum()),
            "median_zero_share": round(float(np.median(zero_share)), 3),
            **{f"class_{name}": int(n) for name, n in zip(DEMAND_CLASSES, classes)}}


def units_by_category(tables: OlistTables, trim_share: float = 0.1) -> pd.Series:
    """Units sold per category (English names, `unknown` where missing) over the kept timeline."""
    lines, _ = sale_lines(tables, "category", trim_share)
    return lines["entity_id"].value_counts()
