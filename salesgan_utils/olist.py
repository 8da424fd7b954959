"""The Olist tables as read: loading, validation and counted repairs, before any sales rule.

`load_tables(folder)` reads the tables of `TABLES` (reviews optional), checks their columns, parses timestamps
(`TIMESTAMP_FORMAT`) and prices (`parse_prices`: decimal comma, currency marks), drops implausible dates
(`plausible_span`) and duplicates, and records in the data report what it read (`file_record`: path, bytes,
sha256) and every repair it made. Anything it cannot use is a `paths.DataError` naming the file or column and the
fix (docs/bad_inputs.md). The sales rules, the panel and its features are `data`'s.
"""
from __future__ import annotations

import codecs
import difflib
import gzip
import hashlib
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import DataError, table_path

TABLES = {
    "orders": ("olist_orders_dataset", ["order_id", "order_status", "order_purchase_timestamp"]),
    "items": ("olist_order_items_dataset", ["order_id", "order_item_id", "product_id", "price"]),
    "products": ("olist_products_dataset", ["product_id", "product_category_name"]),
    "translation": ("product_category_name_translation", ["product_category_name", "product_category_name_english"]),
    "reviews": ("olist_order_reviews_dataset", ["review_id", "order_id", "review_score", "review_creation_date"]),
}
OPTIONAL_TABLES = ("reviews",)


DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Plausible purchase dates: the bulk of the orders (5th..95th percentile) widened on each side by its own width
# (at least PLAUSIBLE_MIN_MARGIN_DAYS). Up to 5% of typo dates (2071 for 2017) cannot move the bulk, so the
# rule does not depend on the rows it rejects; on Olist it keeps everything (2015-10 .. 2019-11).
PLAUSIBLE_BULK = (0.05, 0.95)
PLAUSIBLE_MIN_MARGIN_DAYS = 90
UNPARSABLE_WARN_SHARE = 0.01  # warn loudly when more than this share of a column's values cannot be read


# --------------------------------------------------------------------------------------------------- loading
def _read_table(folder: Path, key: str) -> pd.DataFrame | None:
    name, required = TABLES[key]
    path = table_path(folder, name)
    if path is None:
        if key in OPTIONAL_TABLES:
            return None
        raise DataError(f"required table {name}.csv (or .csv.gz) is missing from {folder}. Download the full "
                        f"Kaggle dataset olistbr/brazilian-ecommerce into that folder (all CSVs side by side).")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). Re-download it from olistbr/brazilian-ecommerce.")
    try:
        # utf-8-sig strips the BOM the translation table carries; every column is read as text first so that
        # bad values are counted by the validation below instead of failing inside the parser.
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=True)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
        raise DataError(f"{path} cannot be read ({type(error).__name__}: {error}); it looks truncated or corrupt. "
                        f"Re-download it from olistbr/brazilian-ecommerce.") from error
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path} is empty (no header). Re-download it from olistbr/brazilian-ecommerce.") from error
    except UnicodeDecodeError as error:
        utf16 = error.object[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        guess, source = ("UTF-16 (Excel's \"Unicode text\")", "utf-16") if utf16 else (
            "probably Latin-1/Windows-1252, as Excel saves it", "latin1")
        raise DataError(f"{path} is not UTF-8 text (byte {error.object[error.start:error.start + 1]!r} at byte "
                        f"{error.start}: {guess}): save it as UTF-8 (Excel: \"CSV UTF-8\"; or iconv -f {source} "
                        f"-t utf-8) and rerun.") from error
    except pd.errors.ParserError as error:
        raise DataError(f"{path} is not a readable CSV ({str(error).strip()}). Re-download it.") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    header = ",".join(frame.columns)
    delimiter = max(DELIMITERS, key=header.count)
    if missing and header.count(delimiter) >= len(required) - 1:
        raise DataError(f"{path} is {DELIMITERS[delimiter]}-delimited ({delimiter!r} between its columns), not "
                        f"comma-delimited as the Olist CSVs are: save it as comma-separated CSV (Excel: \"CSV UTF-8 "
                        f"(Comma delimited)\") or re-download it from olistbr/brazilian-ecommerce.")
    if missing:
        extra = [c for c in frame.columns if c not in required]
        renamed = [f"{close[0]!r} -> {c!r}" for c in missing
                   for close in [difflib.get_close_matches(c, extra, n=1, cutoff=0.6)] if close]
        hint = f" Looks renamed: rename {', '.join(renamed)}." if renamed else ""
        raise DataError(f"{path} lacks required column(s) {missing} (it has {list(frame.columns)}).{hint} Use the "
                        f"original Olist CSV from olistbr/brazilian-ecommerce or rename the column back.")
    if frame.empty and key not in OPTIONAL_TABLES:
        raise DataError(f"{path} has a header but no rows. Re-download it from olistbr/brazilian-ecommerce.")
    frame.attrs["path"] = str(path)
    # The file parsed, so its head reads too: record the two encodings the parser repaired silently.
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        head = handle.read(1 << 16)
    frame.attrs["bom"], frame.attrs["crlf"] = head.startswith(codecs.BOM_UTF8), b"\r\n" in head
    frame.attrs["file"] = file_record(path)
    return frame


def file_record(path: Path) -> dict:
    """Which file was read: absolute path, size and sha256 (saved in metadata.json: a rerun can tell the files
    apart, and a stale copy shows up as another hash)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(Path(path).resolve()), "bytes": int(path.stat().st_size), "sha256": digest.hexdigest()}


def _parse_timestamps(orders: pd.DataFrame, path: str, report: dict) -> pd.DataFrame:
    """Parse `order_purchase_timestamp`; drop and count unparsable rows; stop when most rows fail (a format
    problem, not a few bad rows)."""
    raw = orders["order_purchase_timestamp"]
    parsed = pd.to_datetime(raw, format=TIMESTAMP_FORMAT, errors="coerce")
    unparsable = parsed.isna() & raw.notna()
    if raw.notna().any() and unparsable.sum() > 0.5 * raw.notna().sum():
        sample = raw[unparsable].iloc[0]
        raise DataError(f"{path}: {int(unparsable.sum())} of {int(raw.notna().sum())} order_purchase_timestamp "
                        f"values do not parse (e.g. {sample!r}); expected YYYY-MM-DD HH:MM:SS, e.g. "
                        f"'2017-10-02 10:56:33'. Save the column in that format or re-download the original file.")
    orders = orders.assign(order_purchase_timestamp=parsed)
    bad_time = parsed.isna()
    report["orders_unparsable_or_missing_timestamp_dropped"] = int(bad_time.sum())
    return orders.loc[~bad_time]


def plausible_span(days: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible purchase-date span: the bulk of `days` (PLAUSIBLE_BULK quantiles) widened on each side by
    the bulk's width (at least PLAUSIBLE_MIN_MARGIN_DAYS)."""
    low, high = days.quantile(PLAUSIBLE_BULK[0]), days.quantile(PLAUSIBLE_BULK[1])
    margin = max(high - low, pd.Timedelta(days=PLAUSIBLE_MIN_MARGIN_DAYS))
    return (low - margin).normalize(), (high + margin).normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")


def _drop_implausible_dates(orders: pd.DataFrame, path: str, report: dict) -> tuple[pd.DataFrame, tuple | None]:
    """Drop and count orders dated outside `plausible_span` (typo years such as 2071 or 1917).

    Returns:
        (the orders kept, the span or None when there is no order).
    """
    when = orders["order_purchase_timestamp"]
    if when.empty:
        report["orders_implausible_date_dropped"] = 0
        return orders, None
    low, high = plausible_span(when)
    outside = ~when.between(low, high)
    n = int(outside.sum())
    report["plausible_purchase_dates"] = f"{low.date()} .. {high.date()}"
    report["orders_implausible_date_dropped"] = n
    if n:
        sample = sorted({str(t) for t in when[outside]})[:3]
        report["orders_implausible_dates_sample"] = sample
        warnings.warn(f"IMPLAUSIBLE DATES: {n} order(s) in {path} are dated outside the plausible span "
                      f"{low.date()} .. {high.date()} (the bulk of the orders widened by its width), e.g. "
                      f"{', '.join(sample)}: they are dropped and counted in the data report. Fix the dates if "
                      f"they are typos.", stacklevel=3)
    return orders.loc[~outside], (low, high)


_CURRENCY = r"^\s*(?:R\$|US\$|\$|BRL|USD|EUR|€)?\s*(.*?)\s*(?:R\$|BRL|USD|EUR|€)?\s*$"


def parse_prices(raw: pd.Series, path: str, report: dict) -> pd.Series:
    """Prices as floats by a printed, recorded rule; values that still do not parse become NaN and are counted.

    Rule: a currency mark (R$, $, US$, BRL, USD, EUR, €) around the number is stripped; a number whose last
    separator is a comma ("58,9", "1.234,56") has a decimal comma and dots as thousands separators; one whose
    last separator is a dot is plain ("58.9", "1,234.56"). Each rewrite is counted in the report, and more than
    UNPARSABLE_WARN_SHARE of unparsable non-empty prices is a loud warning (they would add no revenue).
    """
    plain = pd.to_numeric(raw, errors="coerce")
    todo = plain.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if todo.any():
        text = raw[todo].astype(str).str.extract(_CURRENCY, expand=False)
        currency = text != raw[todo].astype(str).str.strip()
        comma = text.str.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3})*,\d+|[-+]?\d+,\d+")
        dot = text.str.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+\.\d+")
        fixed = text.where(~comma, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
        fixed = fixed.where(~dot, fixed.str.replace(",", "", regex=False))
        # a space (or no-break space) between digit groups is a thousands separator: "1 234,56"
        spaced = fixed.str.fullmatch(r"[-+]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?")
        fixed = fixed.where(~spaced, fixed.str.replace(r"[ \u00a0\u202f]", "", regex=True).str.replace(
            ",", ".", regex=False))
        values = pd.to_numeric(fixed, errors="coerce")
        plain[todo] = values
        parsed = values.notna()
        report["items_price_currency_mark_stripped"] = int((currency & parsed).sum())
        report["items_price_decimal_comma_read"] = int((comma & parsed).sum())
        report["items_price_thousands_separator_read"] = int(((dot | spaced) & parsed).sum())
    unparsable = plain.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    n = int(unparsable.sum())
    report["items_unparsable_price"] = n
    if n:
        report["items_unparsable_price_sample"] = sorted(set(raw[unparsable].astype(str)))[:3]
    if n > UNPARSABLE_WARN_SHARE * max(1, len(raw)):
        warnings.warn(f"PRICES UNPARSABLE: {n} of {len(raw)} prices ({n / max(1, len(raw)):.0%}) in {path} are not "
                      f"numbers (e.g. {report['items_unparsable_price_sample']}); their items count as units with "
                      f"no revenue. Expected numbers such as 58.90; fix the price column.", stacklevel=3)
    return plain


@dataclass
class OlistTables:
    """The tables the pipeline reads, cleaned, with the counts of every repair in `report`."""

    orders: pd.DataFrame
    items: pd.DataFrame
    products: pd.DataFrame
    translation: pd.DataFrame
    reviews: pd.DataFrame | None
    folder: Path
    report: dict = field(default_factory=dict)

    @property
    def reviews_available(self) -> bool:
        return self.reviews is not None and len(self.reviews) > 0


def _drop_duplicates(frame: pd.DataFrame, report: dict, key: str) -> pd.DataFrame:
    before = len(frame)
    frame = frame.drop_duplicates().copy()
    report[f"{key}_duplicate_rows_dropped"] = before - len(frame)
    return frame


def load_tables(folder: str | Path) -> OlistTables:
    """Read and validate the Olist tables in `folder` (`.csv` or `.csv.gz`).

    Args:
        folder: a folder holding the Olist CSVs (Kaggle names).

    Returns:
        OlistTables with typed, de-duplicated frames and a report of counts and repairs.

    Raises:
        DataError: a required table or column is missing, a file is empty, truncated or unreadable.
    """
    folder = Path(folder)
    report: dict = {"folder": str(folder)}
    frames = {key: _read_table(folder, key) for key in TABLES}
    for key, frame in frames.items():
        report[f"{key}_rows"] = 0 if frame is None else int(len(frame))
    # Repairs made while reading: a UTF-8 BOM stripped, CRLF line ends read as LF (file names, for the report).
    read = {key: frame for key, frame in frames.items() if frame is not None}
    report["files_with_utf8_bom_stripped"] = [Path(f.attrs["path"]).name for f in read.values() if f.attrs["bom"]]
    report["files_with_crlf_line_ends"] = [Path(f.attrs["path"]).name for f in read.values() if f.attrs["crlf"]]
    report["files_read"] = {key: frame.attrs["file"] for key, frame in read.items()}

    orders = _drop_duplicates(frames["orders"], report, "orders")
    orders = _parse_timestamps(orders, frames["orders"].attrs["path"], report)
    orders, span = _drop_implausible_dates(orders, frames["orders"].attrs["path"], report)
    duplicated_ids = orders["order_id"].duplicated(keep="first")
    report["orders_conflicting_duplicate_ids_dropped"] = int(duplicated_ids.sum())
    orders = orders.loc[~duplicated_ids]
    report["orders_by_status"] = {str(k): int(v) for k, v in orders["order_status"].value_counts().items()}

    items = _drop_duplicates(frames["items"], report, "items")
    items["price"] = parse_prices(items["price"], frames["items"].attrs["path"], report)
    bad_price = items["price"].isna() | (items["price"] < 0)
    report["items_missing_or_negative_price"] = int(bad_price.sum())
    if bad_price.sum() > UNPARSABLE_WARN_SHARE * max(1, len(items)):
        warnings.warn(f"PRICES MISSING: {int(bad_price.sum())} of {len(items)} items ({bad_price.mean():.0%}) in "
                      f"{frames['items'].attrs['path']} have a missing, negative or unreadable price: they count as "
                      f"units with no revenue. Check the price column.", stacklevel=2)
    items.loc[bad_price, "price"] = np.nan
    report["orders_without_items"] = int((~orders["order_id"].isin(items["order_id"])).sum())
    report["items_with_unknown_order_dropped"] = int((~items["order_id"].isin(orders["order_id"])).sum())
    items = items.loc[items["order_id"].isin(orders["order_id"])]

    products = _drop_duplicates(frames["products"], report, "products")
    products = products.drop_duplicates("product_id")
    translation = _drop_duplicates(frames["translation"], report, "translation")
    report["items_with_unknown_product"] = int((~items["product_id"].isin(products["product_id"])).sum())
    report["products_without_category"] = int(products["product_category_name"].isna().sum())
    known = set(translation["product_category_name"])
    untranslated = sorted(set(products["product_category_name"].dropna()) - known)
    report["categories_missing_translation"] = untranslated

    reviews = frames["reviews"]
    if reviews is not None:
        reviews = _drop_duplicates(reviews, report, "reviews")
        reviews["review_score"] = pd.to_numeric(reviews["review_score"], errors="coerce")
        reviews["review_creation_date"] = pd.to_datetime(reviews["review_creation_date"], errors="coerce",
                                                         format="mixed")
        bad = reviews["review_score"].isna() | reviews["review_creation_date"].isna() | ~reviews[
            "review_score"].between(1, 5)
        report["reviews_unparsable_dropped"] = int(bad.sum())
        reviews = reviews.loc[~bad]
        # the orders' plausible span: a review dated 1970 would be "known" from the panel's first day
        outside = ~reviews["review_creation_date"].between(*span) if span else reviews["review_score"].isna()
        report["reviews_implausible_date_dropped"] = int(outside.sum())
        reviews = reviews.loc[~outside]
    report["reviews_available"] = bool(reviews is not None and len(reviews) > 0)
    if not report["reviews_available"]:
        warnings.warn(f"REVIEWS UNAVAILABLE: no usable olist_order_reviews_dataset.csv in {folder}; review "
                      f"features are set to 0 and flagged reviews_available = 0 for every window.", stacklevel=2)
    return OlistTables(orders, items, products, translation, reviews, folder, report)
