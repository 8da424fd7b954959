"""Tests of salesgan_utils.repairs: the one rule for drops and repairs, and bounded strings."""
from __future__ import annotations

import warnings

import pytest

from salesgan_utils.paths import DataError
from salesgan_utils.repairs import RepairRule, bounded_counts, bounded_list, bounded_text, shortened_id

NOTE = dict(tag="TEST", unit="rows", where="t.csv", what="are bad", fix="Fix them.")


@pytest.mark.parametrize("n, loss, outcome", [(0, True, "quiet"), (1, True, "quiet"), (2, True, "warning"),
                                              (50, True, "warning"), (51, True, "error"), (100, False, "warning")])
def test_a_drop_is_counted_loud_above_the_warning_share_and_an_error_above_the_error_share(n, loss, outcome):
    report: dict = {}
    rule = RepairRule(warn_share=0.01, error_share=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if outcome == "error":
            with pytest.raises(DataError, match=rf"t.csv: {n} of 100 rows \({n}%\) are bad.*repair_error_share"):
                rule.note(report, "bad", n, 100, loss=loss, **NOTE)
            return
        assert rule.note(report, "bad", n, 100, loss=loss, **NOTE) == n
    assert report["bad"] == n
    assert [str(w.message).split(":")[0] for w in caught] == (["TEST"] if outcome == "warning" else [])
    assert ("repairs_above_warn_share" in report) == (outcome == "warning")


def test_shares_out_of_order_are_refused():
    with pytest.raises(DataError, match="warn <= error"):
        RepairRule(warn_share=0.6, error_share=0.5)


def test_strings_are_bounded_with_the_count_cut():
    assert bounded_text("x" * 205, 200) == "x" * 200 + "…[+5 chars]"
    assert bounded_list(range(25), 20)[-1] == "… and 5 more" and len(bounded_list(range(25), 20)) == 21
    assert bounded_counts({str(i): 1 for i in range(22)}, 20)["… 2 others"] == 2


def test_shortened_ids_stay_equal_when_equal_and_distinct_when_distinct():
    a, b = "a" * 300, "a" * 299 + "b"
    assert shortened_id(a) == shortened_id("a" * 300) != shortened_id(b)
    assert len(shortened_id(a)) < 260 and shortened_id("short") == "short"
