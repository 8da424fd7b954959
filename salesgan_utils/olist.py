"""The Olist tables as read: loading, validation and counted repairs, before any sales rule.

`load_tables(folder)` reads the tables of `TABLES` (reviews optional): each file is sniffed first (`sniff`: a
folder, a broken link, zip or double-gzip content, UTF-16 or NUL bytes are named as what they are), its columns
checked, its key columns stripped of surrounding whitespace and bounded in length, timestamps parsed
(`parse_timestamps`: `TIMESTAMP_FORMAT`, else ISO 8601) and prices (`parse_prices`: decimal comma, currency marks,
finite values only); implausible dates (`plausible_span`), reviews dated before their order, exact duplicates and
conflicting duplicate ids (the same id with other values: the first row is kept, in every keyed table alike) are
dropped. Each drop or repair goes through one rule (`repairs.RepairRule`): counted in the data report, a loud
warning above a small share, an error above a large one. What was read is recorded (`file_record`: path, bytes,
sha256). Anything it cannot use is a `paths.DataError` naming the file or column and the fix
(docs/bad_inputs.md). The sales rules, the panel and its features are `data`'s.
"""
from __future__ import annotations

import codecs
import difflib
import gzip
import io
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import sniff
from .paths import DataError, near_misses, table_path
from .repairs import MAX_TEXT_CHARS, RepairRule, bounded_counts, bounded_list, bounded_text, shortened_id

TABLES = {
    "orders": ("olist_orders_dataset", ["order_id", "order_status", "order_purchase_timestamp"]),
    "items": ("olist_order_items_dataset", ["order_id", "order_item_id", "product_id", "price"]),
    "products": ("olist_products_dataset", ["product_id", "product_category_name"]),
    "translation": ("product_category_name_translation", ["product_category_name", "product_category_name_english"]),
    "reviews": ("olist_order_reviews_dataset", ["review_id", "order_id", "review_score", "review_creation_date"]),
}
OPTIONAL_TABLES = ("reviews",)
# Columns compared as keys or names across tables: stripped of surrounding whitespace (counted) and bounded in
# length (`repairs.shortened_id`), so that " o1" joins "o1" and a 20 MB name is not copied into every artifact.
KEY_COLUMNS = {
    "orders": ("order_id", "order_status"),
    "items": ("order_id", "order_item_id", "product_id"),
    "products": ("product_id", "product_category_name"),
    "translation": ("product_category_name", "product_category_name_english"),
    "reviews": ("review_id", "order_id"),
}
# The id of each keyed table: two rows with the same id and other values conflict, and the first is kept.
ID_COLUMNS = {"orders": ["order_id"], "items": ["order_id", "order_item_id"], "products": ["product_id"],
              "translation": ["product_category_name"], "reviews": ["review_id", "order_id"]}


DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Plausible purchase dates: the bulk of the orders (5th..95th percentile) widened on each side by its own width
# (at least PLAUSIBLE_MIN_MARGIN_DAYS). Up to 5% of typo dates (2071 for 2017) cannot move the bulk, so the
# rule does not depend on the rows it rejects; on Olist it keeps everything (2015-10 .. 2019-11).
PLAUSIBLE_BULK = (0.05, 0.95)
PLAUSIBLE_MIN_MARGIN_DAYS = 90
# ISO 8601 beside TIMESTAMP_FORMAT: a T between date and time, fractional seconds, a Z or an offset. The wall-clock
# time as written is kept (an offset is not applied): Olist's timestamps are local times, like the other rows.
_ISO_8601 = (r"^\s*(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(:\d{2})?(?:[.,]\d+)?)?\s*"
             r"(?:Z|[+-]\d{2}(?::?\d{2})?)?\s*$")


# --------------------------------------------------------------------------------------------------- loading
def _read_table(folder: Path, key: str) -> pd.DataFrame | None:
    name, required = TABLES[key]
    path = table_path(folder, name)  # a folder or a broken link under the table's name is an error there
    if path is None:
        if key in OPTIONAL_TABLES:
            return None
        found = near_misses(folder, name)
        hint = f" Found instead: {', '.join(bounded_list(found, 5))}." if found else ""
        raise DataError(f"required table {name}.csv (or .csv.gz) is missing from {folder}.{hint} Download the full "
                        f"Kaggle dataset olistbr/brazilian-ecommerce into that folder (all CSVs side by side).")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). Re-download it from olistbr/brazilian-ecommerce.")
    problem = sniff.describe_file(path)
    if problem:
        raise DataError(problem + ".")
    try:
        # Decompressed once into memory: the byte-level checks and the parser read the same bytes.
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            content = handle.read()
        problem = sniff.describe_content(path, content)
        if problem:
            raise DataError(problem + ".")
        # utf-8-sig strips the BOM the translation table carries; every column is read as text first so that
        # bad values are counted by the validation below instead of failing inside the parser.
        frame = pd.read_csv(io.BytesIO(content), dtype=str, encoding="utf-8-sig", keep_default_na=True)
    except MemoryError:
        size = path.stat().st_size
        raise MemoryError(f"not enough memory to read table {name} from {path} ({size / 1e6:,.1f} MB on disk"
                          f"{', more decompressed' if path.suffix == '.gz' else ''}; as a table of text it needs "
                          f"several times that): close other programs or use a machine with more memory, and "
                          f"rerun.") from None
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
        raise DataError(f"{path} is not a readable CSV ({bounded_text(str(error).strip())}). Re-download it."
                        ) from error
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
        raise DataError(f"{path} lacks required column(s) {missing} (it has {bounded_list(frame.columns)}).{hint} "
                        f"Use the original Olist CSV from olistbr/brazilian-ecommerce or rename the column back.")
    if frame.empty and key not in OPTIONAL_TABLES:
        raise DataError(f"{path} has a header but no rows. Re-download it from olistbr/brazilian-ecommerce.")
    frame.attrs["path"] = str(path)
    # The two encodings the parser repaired silently, recorded for the report.
    frame.attrs["bom"], frame.attrs["crlf"] = content.startswith(codecs.BOM_UTF8), b"\r\n" in content[:1 << 16]
    frame.attrs["file"] = file_record(path)
    return frame


def file_record(path: Path) -> dict:
    """Which file was read: absolute path, size and sha256 (saved in metadata.json: a rerun can tell the files
    apart, and a stale copy shows up as another hash)."""
    return {"path": str(Path(path).resolve()), "bytes": int(path.stat().st_size), "sha256": sniff.sha256_file(path)}


def _clean_keys(frame: pd.DataFrame, key: str, report: dict, rule: RepairRule) -> pd.DataFrame:
    """Strip surrounding whitespace from the key columns of one table and bound their length (both counted).

    The test runs in Arrow's compute kernels (milliseconds for the real tables); pandas rewrites a column only
    when something is to be changed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = frame.attrs["path"]
    stripped = shortened = 0
    sample: list = []
    for column in KEY_COLUMNS[key]:
        values = pa.array(frame[column].to_numpy(dtype=object), from_pandas=True, type=pa.string())
        padded = pc.not_equal(values, pc.utf8_trim_whitespace(values))
        long = pc.greater(pc.utf8_length(values), MAX_TEXT_CHARS)
        n_padded, n_long = pc.sum(padded).as_py() or 0, pc.sum(long).as_py() or 0
        if not (n_padded or n_long):
            continue
        raw = frame[column]
        text = raw.dropna()
        clean = text.str.strip()
        sample += text[clean != text].head(3).tolist()
        too_long = clean.str.len() > MAX_TEXT_CHARS
        clean = clean.where(~too_long, clean[too_long].map(shortened_id))
        frame[column] = raw.where(raw.isna(), clean.reindex(raw.index))
        stripped, shortened = stripped + n_padded, shortened + int(too_long.sum())
    cells = len(frame) * len(KEY_COLUMNS[key])
    rule.note(report, f"{key}_key_whitespace_stripped", stripped, cells, tag="KEYS PADDED", unit="key cells",
              where=path, what="have whitespace around them", sample=sample, loss=False,
              consequence="it is stripped, so that they match the other tables' keys",
              fix="Check how the file was exported (fixed-width or padded columns).")
    rule.note(report, f"{key}_long_values_shortened", shortened, cells, tag="VALUES TOO LONG", unit="key cells",
              where=path, what=f"are longer than {MAX_TEXT_CHARS} characters", loss=False,
              consequence=f"each is kept as its first {MAX_TEXT_CHARS} characters and a hash of the whole",
              fix="Check the file: Olist ids are 32 characters and names are short.")
    return frame


def parse_timestamps(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Timestamps from text: `TIMESTAMP_FORMAT` (Olist's), else ISO 8601 (`T`, fractional seconds, `Z` or an
    offset, or a date alone; the wall-clock time as written is kept).

    Returns:
        (parsed timestamps, NaT where neither reads; a boolean mask of the values read as ISO 8601).
    """
    parsed = pd.to_datetime(raw, format=TIMESTAMP_FORMAT, errors="coerce")
    iso = pd.Series(False, index=raw.index)
    todo = parsed.isna() & raw.notna()
    if todo.any():
        parts = raw[todo].astype(str).str.extract(_ISO_8601)
        text = parts[0] + " " + parts[1].fillna("00:00") + parts[2].fillna(":00")
        again = pd.to_datetime(text, format=TIMESTAMP_FORMAT, errors="coerce")
        parsed[todo] = again
        iso[todo] = again.notna()
    return parsed, iso


def _parse_order_timestamps(orders: pd.DataFrame, path: str, report: dict, rule: RepairRule) -> pd.DataFrame:
    """Parse `order_purchase_timestamp`; drop and count the rows that are missing or do not parse."""
    raw = orders["order_purchase_timestamp"]
    parsed, iso = parse_timestamps(raw)
    rule.note(report, "orders_iso8601_timestamp_read", int(iso.sum()), len(raw), tag="TIMESTAMPS REWRITTEN",
              unit="order_purchase_timestamp values", where=path, what="are ISO 8601 (a T, Z or offset)",
              sample=raw[iso].head(3).tolist(), loss=False, consequence="read as the wall-clock time written",
              fix="Nothing to do if that is how the file was exported.")
    bad_time = parsed.isna()
    rule.note(report, "orders_unparsable_or_missing_timestamp_dropped", int(bad_time.sum()), len(raw),
              tag="TIMESTAMPS UNPARSABLE", unit="order_purchase_timestamp values", where=path,
              what="are missing or do not parse", sample=raw[bad_time & raw.notna()].head(3).tolist(),
              consequence="their orders are dropped",
              fix="expected YYYY-MM-DD HH:MM:SS (ISO 8601 such as 2017-10-02T10:56:33Z is read too), e.g. "
                  "'2017-10-02 10:56:33'. Save the column in that format or re-download the original file")
    return orders.assign(order_purchase_timestamp=parsed).loc[~bad_time]


def plausible_span(days: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible purchase-date span: the bulk of `days` (PLAUSIBLE_BULK quantiles) widened on each side by
    the bulk's width (at least PLAUSIBLE_MIN_MARGIN_DAYS)."""
    low, high = days.quantile(PLAUSIBLE_BULK[0]), days.quantile(PLAUSIBLE_BULK[1])
    margin = max(high - low, pd.Timedelta(days=PLAUSIBLE_MIN_MARGIN_DAYS))
    return (low - margin).normalize(), (high + margin).normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")


def _drop_implausible_dates(orders: pd.DataFrame, path: str, report: dict,
                            rule: RepairRule) -> tuple[pd.DataFrame, tuple | None]:
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
    report["plausible_purchase_dates"] = f"{low.date()} .. {high.date()}"
    if outside.any():
        report["orders_implausible_dates_sample"] = sorted({str(t) for t in when[outside]})[:3]
    rule.note(report, "orders_implausible_date_dropped", int(outside.sum()), len(when), tag="IMPLAUSIBLE DATES",
              unit="orders", where=path, what=f"are dated outside the plausible span {low.date()} .. {high.date()} "
              f"(the bulk of the orders widened by its width)", sample=report.get("orders_implausible_dates_sample"),
              consequence="they are dropped and counted in the data report", fix="Fix the dates if they are typos.")
    return orders.loc[~outside], (low, high)


_CURRENCY = r"^\s*(?:R\$|US\$|\$|BRL|USD|EUR|€)?\s*(.*?)\s*(?:R\$|BRL|USD|EUR|€)?\s*$"


def parse_prices(raw: pd.Series, path: str, report: dict, rule: RepairRule | None = None) -> pd.Series:
    """Prices as finite floats by a printed, recorded rule; values that still do not parse become NaN and are
    counted.

    Rule: a currency mark (R$, $, US$, BRL, USD, EUR, €) around the number is stripped; a number whose last
    separator is a comma ("58,9", "1.234,56") has a decimal comma and dots as thousands separators; one whose
    last separator is a dot is plain ("58.9", "1,234.56"). Each rewrite is counted in the report. "inf",
    "Infinity" and values beyond float32 (the panel's revenue) are not prices: NaN, counted as unparsable. Above
    the rule's warning share, unparsable prices are a loud warning (they would add no revenue; the unit stays).
    """
    rule = rule or RepairRule()
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
    non_finite = plain.notna() & ~np.isfinite(plain.astype(np.float64)) | (plain.abs() > np.finfo(np.float32).max)
    report["items_non_finite_price"] = int(non_finite.sum())
    plain[non_finite] = np.nan
    unparsable = plain.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if unparsable.any():
        report["items_unparsable_price_sample"] = bounded_list(sorted(set(raw[unparsable].astype(str)))[:3])
    rule.note(report, "items_unparsable_price", int(unparsable.sum()), len(raw), tag="PRICES UNPARSABLE",
              unit="prices", where=path, what="are not finite numbers", sample=report.get(
                  "items_unparsable_price_sample"), loss=False,
              consequence="their items count as units with no revenue",
              fix="Expected numbers such as 58.90; fix the price column.")
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


def _drop_duplicates(frame: pd.DataFrame, report: dict, key: str, rule: RepairRule) -> pd.DataFrame:
    """Drop exact duplicate rows (nothing is lost: counted, and warned about above the warning share)."""
    path = frame.attrs["path"]
    kept = frame.drop_duplicates().copy()
    kept.attrs = dict(frame.attrs)
    rule.note(report, f"{key}_duplicate_rows_dropped", len(frame) - len(kept), len(frame), tag="DUPLICATE ROWS",
              unit="rows", where=path, what="repeat another row exactly", loss=False,
              consequence="the repeats are dropped", fix="Check that the file was not concatenated with itself.")
    return kept


def _drop_conflicting_ids(frame: pd.DataFrame, report: dict, key: str, rule: RepairRule) -> pd.DataFrame:
    """Drop rows whose id (`ID_COLUMNS`) repeats an earlier row's with other values; the first row is kept."""
    ids = ID_COLUMNS[key]
    repeated = frame.duplicated(ids, keep="first")
    rule.note(report, f"{key}_conflicting_duplicate_ids_dropped", int(repeated.sum()), len(frame),
              tag="CONFLICTING DUPLICATES", unit="rows", where=frame.attrs["path"],
              what=f"repeat the {' + '.join(ids)} of an earlier row with other values",
              sample=frame.loc[repeated, ids[0]].head(3).tolist(), consequence="the first row of each id is kept",
              fix="Keep one row per id (re-download the file if it should not have repeats).")
    return frame.loc[~repeated]


def _parse_reviews(reviews: pd.DataFrame, orders: pd.DataFrame, span, report: dict,
                   rule: RepairRule) -> pd.DataFrame:
    """Scores 1..5 and creation dates; unparsable, implausibly dated and before-purchase reviews dropped."""
    path = reviews.attrs["path"]
    raw_score = reviews["review_score"]
    score = pd.to_numeric(raw_score, errors="coerce")
    created, _ = parse_timestamps(reviews["review_creation_date"])
    bad = score.isna() | created.isna() | ~score.between(1, 5)
    rule.note(report, "reviews_unparsable_dropped", int(bad.sum()), len(reviews), tag="REVIEWS UNPARSABLE",
              unit="reviews", where=path, what="have no score 1..5 or no readable review_creation_date",
              sample=raw_score[bad].head(3).tolist(), consequence="they are dropped",
              fix="Expected a score 1..5 and a date YYYY-MM-DD HH:MM:SS.")
    reviews = reviews.assign(review_score=score, review_creation_date=created).loc[~bad]
    # the orders' plausible span: a review dated 1970 would be "known" from the panel's first day
    outside = ~reviews["review_creation_date"].between(*span) if span else reviews["review_score"].isna()
    rule.note(report, "reviews_implausible_date_dropped", int(outside.sum()), len(reviews), tag="IMPLAUSIBLE DATES",
              unit="reviews", where=path, what="are dated outside the orders' plausible span",
              sample=reviews.loc[outside, "review_creation_date"].astype(str).head(3).tolist(),
              consequence="they are dropped", fix="Fix the dates if they are typos.")
    reviews = reviews.loc[~outside]
    # A review written before its order was placed is impossible: a typo or a wrong order_id. Compared by day,
    # since Olist dates reviews at midnight.
    purchase = reviews["order_id"].map(orders.set_index("order_id")["order_purchase_timestamp"])
    early = reviews["review_creation_date"].dt.normalize() < purchase.dt.normalize()
    rule.note(report, "reviews_before_purchase_dropped", int(early.sum()), len(reviews),
              tag="REVIEWS BEFORE PURCHASE", unit="reviews", where=path,
              what="are dated before their order's purchase", sample=reviews.loc[early, "review_id"].head(3).tolist(),
              consequence="they are dropped", fix="Check review_creation_date and order_id of those rows.")
    return reviews.loc[~early]


def load_tables(folder: str | Path, rule: RepairRule | None = None) -> OlistTables:
    """Read and validate the Olist tables in `folder` (`.csv` or `.csv.gz`).

    Args:
        folder: a folder holding the Olist CSVs (Kaggle names).
        rule: the shares above which a drop or repair is a warning or an error (default `RepairRule()`).

    Returns:
        OlistTables with typed, de-duplicated frames and a report of counts and repairs.

    Raises:
        DataError: a required table or column is missing, a file is empty, truncated, unreadable or not what its
            name says, or a drop exceeds the rule's error share.
        MemoryError: a table does not fit in memory (the message names it).
    """
    folder = Path(folder)
    rule = rule or RepairRule()
    report: dict = {"folder": str(folder)}
    frames = {key: _read_table(folder, key) for key in TABLES}
    for key, frame in frames.items():
        report[f"{key}_rows"] = 0 if frame is None else int(len(frame))
    # Repairs made while reading: a UTF-8 BOM stripped, CRLF line ends read as LF (file names, for the report).
    read = {key: frame for key, frame in frames.items() if frame is not None}
    report["files_with_utf8_bom_stripped"] = [Path(f.attrs["path"]).name for f in read.values() if f.attrs["bom"]]
    report["files_with_crlf_line_ends"] = [Path(f.attrs["path"]).name for f in read.values() if f.attrs["crlf"]]
    report["files_read"] = {key: frame.attrs["file"] for key, frame in read.items()}
    cleaned = {key: _drop_duplicates(_clean_keys(frame, key, report, rule), report, key, rule)
               for key, frame in read.items()}

    path = frames["orders"].attrs["path"]
    orders = _parse_order_timestamps(cleaned["orders"], path, report, rule)
    orders, span = _drop_implausible_dates(orders, path, report, rule)
    orders = _drop_conflicting_ids(orders, report, "orders", rule)
    report["orders_by_status"] = bounded_counts(orders["order_status"].value_counts().to_dict())

    items = _drop_conflicting_ids(cleaned["items"], report, "items", rule).copy()
    path = frames["items"].attrs["path"]
    items["price"] = parse_prices(items["price"], path, report, rule)
    bad_price = items["price"].isna() | (items["price"] < 0)
    report["items_missing_or_negative_price"] = int(bad_price.sum()) - report["items_non_finite_price"]
    rule.note(report, "items_without_usable_price", int(bad_price.sum()), len(items), tag="PRICES MISSING",
              unit="items", where=path, what="have a missing, negative, infinite or unreadable price", loss=False,
              consequence="they count as units with no revenue", fix="Check the price column.")
    items.loc[bad_price, "price"] = np.nan
    report["orders_without_items"] = int((~orders["order_id"].isin(items["order_id"])).sum())
    unknown = ~items["order_id"].isin(orders["order_id"])
    rule.note(report, "items_with_unknown_order_dropped", int(unknown.sum()), len(items), tag="ITEMS UNMATCHED",
              unit="items", where=path, what="name an order_id that is not among the usable orders",
              sample=items.loc[unknown, "order_id"].head(3).tolist(), consequence="they are dropped",
              fix="Check that the orders and items files come from the same download.")
    items = items.loc[~unknown]

    products = _drop_conflicting_ids(cleaned["products"], report, "products", rule)
    translation = _drop_conflicting_ids(cleaned["translation"], report, "translation", rule)
    report["items_with_unknown_product"] = int((~items["product_id"].isin(products["product_id"])).sum())
    report["products_without_category"] = int(products["product_category_name"].isna().sum())
    known = set(translation["product_category_name"])
    untranslated = sorted(set(products["product_category_name"].dropna()) - known)
    report["categories_missing_translation"] = bounded_list(untranslated)

    reviews = None
    if "reviews" in cleaned:
        reviews = _drop_conflicting_ids(cleaned["reviews"], report, "reviews", rule)
        reviews = _parse_reviews(reviews, orders, span, report, rule)
    report["reviews_available"] = bool(reviews is not None and len(reviews) > 0)
    if not report["reviews_available"]:
        warnings.warn(f"REVIEWS UNAVAILABLE: no usable olist_order_reviews_dataset.csv in {folder}; review "
                      f"features are set to 0 and flagged reviews_available = 0 for every window.", stacklevel=2)
    return OlistTables(orders, items, products, translation, reviews, folder, report)
