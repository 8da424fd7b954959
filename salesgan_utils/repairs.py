"""One rule for every drop and repair of input data, and bounds on the strings copied from data into artifacts.

Rule (`RepairRule.note`): every drop or repair is counted in the data report under its own key; above
`warn_share` of the rows it concerns it is also a loud warning naming the file, the share, an example and the fix;
a drop (rows or values lost) above `error_share` is a `DataError` instead, since so large a loss is a format
problem (a new timestamp format, padded keys, a damaged file), not a few bad rows. A rewrite that loses nothing
(a decimal comma read, whitespace stripped from a key) is counted and warned about, never an error. The shares are
stage 01's parameters `repair_warn_share` and `repair_error_share`.

Strings from the data (category names, ids, sample values, status names) reach metadata.json, the report and
error messages only through `bounded_text` / `bounded_list` / `bounded_counts`: a 20 MB category name is cut to
`MAX_TEXT_CHARS` with the count of what was cut.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

from .paths import DataError

REPAIR_WARN_SHARE = 0.01  # above 1% of a table's rows a drop or repair is a loud warning
REPAIR_ERROR_SHARE = 0.5  # above half of them a drop is an error: the file's format, not a few bad rows
MAX_TEXT_CHARS = 200  # longest string copied from the data into an artifact, a report or a message
MAX_LIST_ITEMS = 20  # longest list (or mapping) of data values copied likewise


def bounded_text(value, limit: int = MAX_TEXT_CHARS) -> str:
    """`str(value)`, cut to `limit` characters with the count of those cut (`…[+N chars]`)."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit:,} chars]"


def shortened_id(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """An id or name longer than `limit` as its prefix plus a hash of the whole: equal inputs stay equal, distinct
    ones distinct, so that the shortened value still joins the tables."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{value[:limit]}…[{len(value):,} chars, sha256 {digest}]"


def bounded_list(values, limit: int = MAX_LIST_ITEMS, text_limit: int = MAX_TEXT_CHARS) -> list[str]:
    """The first `limit` values as bounded strings, then `… and N more` when some were left out."""
    values = list(values)
    shown = [bounded_text(v, text_limit) for v in values[:limit]]
    if len(values) > limit:
        shown.append(f"… and {len(values) - limit:,} more")
    return shown


def bounded_counts(counts: dict, limit: int = MAX_LIST_ITEMS) -> dict:
    """A {value: count} mapping with bounded keys; past `limit` keys the rest are summed under `… N others`."""
    items = list(counts.items())
    shown = {bounded_text(k): int(v) for k, v in items[:limit]}
    if len(items) > limit:
        shown[f"… {len(items) - limit:,} others"] = int(sum(v for _, v in items[limit:]))
    return shown


@dataclass(frozen=True)
class RepairRule:
    """The shares above which a drop or repair is a warning, and a drop an error (see the module docstring)."""

    warn_share: float = REPAIR_WARN_SHARE
    error_share: float = REPAIR_ERROR_SHARE

    def __post_init__(self):
        if not 0 <= self.warn_share <= self.error_share <= 1:
            raise DataError(f"parameters repair_warn_share = {self.warn_share} and repair_error_share = "
                            f"{self.error_share} must satisfy 0 <= warn <= error <= 1 (defaults "
                            f"{REPAIR_WARN_SHARE} and {REPAIR_ERROR_SHARE})")

    def note(self, report: dict, key: str, n: int, total: int, *, tag: str, unit: str, where: str, what: str,
             fix: str, sample=None, loss: bool = True, consequence: str = "") -> int:
        """Count `n` of `total` rows under `report[key]`; warn or raise by the shares.

        Args:
            report: the data report (mutated).
            key: the report key of this count.
            n, total: rows concerned and rows they are a share of.
            tag: the warning's headline, e.g. "IMPLAUSIBLE DATES".
            unit: what `total` counts, e.g. "orders".
            where: the file (or table) concerned.
            what: what happened to them, e.g. "are dated outside 2015-10-01 .. 2019-11-30".
            fix: what the user should do.
            sample: a few of the offending values (bounded before they are shown).
            loss: True for a drop (rows or values lost: an error above `error_share`), False for a lossless
                rewrite (a warning at most).
            consequence: what the pipeline does with them, e.g. "they are dropped".

        Returns:
            `n`.

        Raises:
            DataError: a loss above `error_share`.
        """
        n, total = int(n), int(total)
        report[key] = n
        if not n:
            return n
        share = n / max(1, total)
        example = f" (e.g. {', '.join(repr(s) for s in bounded_list(sample, 3, 80))})" if sample is not None and \
            len(sample) else ""
        if loss and share > self.error_share:
            raise DataError(f"{where}: {n:,} of {total:,} {unit} ({share:.0%}) {what}{example}, more than "
                            f"repair_error_share = {self.error_share:.0%} would be lost: {fix} (or raise "
                            f"repair_error_share if so large a loss is expected)")
        if share > self.warn_share:
            report.setdefault("repairs_above_warn_share", []).append(f"{key} ({share:.1%})")
            warnings.warn(f"{tag}: {n:,} of {total:,} {unit} ({share:.0%}) in {where} {what}{example}"
                          f"{': ' + consequence if consequence else ''}. {fix}", stacklevel=3)
        return n
