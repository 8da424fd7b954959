"""Tests of salesgan_utils.windows: the windows of a hand-made two-entity panel, written out day by day."""
import numpy as np
import pytest

from salesgan_utils import windows
from salesgan_utils.data import REVIEW_NAMES, Panel
from salesgan_utils.windows import WindowSet

# 14 days from Monday 2017-01-02: train = days 0-7, val = days 8-10, test = days 11-13. Windows: 3 history days,
# 2 target days.
T, TRAIN_END, VAL_END, L, H = 14, 8, 11, 3, 2
DAYS = np.arange(T)


def _panel(reviews_available: bool = True) -> Panel:
    """e0 sells d units on day d from day 0 (scale min 0, range 4: scaled d / 4); e1 sells 10 + d units from its
    first sale on day 3 (scale min 10, range 2: scaled d / 2). Calendar row d = (d, 10 d). e0 gets one review of
    4 stars created on day 3."""
    units = np.stack([DAYS, np.where(DAYS >= 3, 10 + DAYS, 0)]).astype(np.float32)
    count = np.zeros((2, T), np.float32)
    count[0, 3:] = 1
    return Panel(entity_ids=np.array(["e0", "e1"], dtype=object),
                 dates=(np.datetime64("2017-01-02") + DAYS).astype("datetime64[D]"), units=units,
                 revenue=2 * units, first_day=np.array([0, 3]), train_end=TRAIN_END, val_end=VAL_END,
                 calendar=np.stack([DAYS, 10 * DAYS], axis=1).astype(np.float32), calendar_names=["day", "tens"],
                 review_count=count, review_score_sum=4 * count, reviews_available=reviews_available,
                 scale_min=np.array([0.0, 10.0]), scale_range=np.array([4.0, 2.0]), naive_mae=np.array([1.5, 2.5]),
                 naive_mse=np.array([3.0, 4.0]), demand_class=np.array([0, 2], np.int8))


@pytest.mark.parametrize("split,stride,expected", [
    ("train", 1, [2, 3, 4, 5]),  # history from day 0, target inside train (last target day 7)
    ("train", 2, [2, 4]),
    ("val", 1, [7, 8]),  # targets start on val's first day (8) and end inside val (day 10)
    ("test", 1, [10, 11]),
])
def test_window_origins_by_hand(split, stride, expected):
    assert windows.window_origins(_panel(), split, L, H, stride).tolist() == expected


@pytest.mark.parametrize("kwargs,message", [(dict(split="holdout"), "split 'holdout' is not one of"),
                                            (dict(split="train", stride=0), "stride=0 must all be >= 1"),
                                            (dict(split="val", horizon=0), "horizon=0")])
def test_window_origins_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        windows.window_origins(_panel(), **kwargs)


def test_train_windows_by_hand():
    train = windows.make_windows(_panel(), "train", L, H)
    # e0 at origins 2..5; e1 only at origin 5, the first whose history starts on its first sale (day 3)
    assert train.entity.tolist() == [0, 0, 0, 0, 1]
    assert train.origin.astype(str).tolist() == ["2017-01-04", "2017-01-05", "2017-01-06", "2017-01-07",
                                                 "2017-01-07"]
    np.testing.assert_array_equal(train.history[0], [0.0, 0.25, 0.5])  # days 0 1 2 / 4
    np.testing.assert_array_equal(train.target[0], [0.75, 1.0])  # days 3 4
    np.testing.assert_array_equal(train.history[4], [1.5, 2.0, 2.5])  # (13 14 15 - 10) / 2
    np.testing.assert_array_equal(train.target[4], [3.0, 3.5])
    np.testing.assert_array_equal(train.calendar[0], [[3, 30], [4, 40]])  # the calendar of the target days
    np.testing.assert_array_equal(train.calendar[4], [[6, 60], [7, 70]])
    assert train.scale_min.tolist() == [0, 0, 0, 0, 10] and train.scale_range.tolist() == [4, 4, 4, 4, 2]
    assert train.naive_mae.tolist() == [1.5] * 4 + [2.5] and train.naive_mse.tolist() == [3.0] * 4 + [4.0]
    assert train.demand_class.tolist() == [0, 0, 0, 0, 2]
    assert train.entity_ids == ["e0", "e1"] and train.calendar_names == ["day", "tens"]
    assert train.review_names == list(REVIEW_NAMES)
    assert (len(train), train.history_days, train.horizon) == (5, L, H)


def test_val_and_test_history_reaches_back_into_earlier_splits():
    val = windows.make_windows(_panel(), "val", L, H)
    test = windows.make_windows(_panel(), "test", L, H)
    assert val.origin.astype(str).tolist() == ["2017-01-09", "2017-01-10"] * 2
    assert test.entity.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(val.history[0], np.array([5, 6, 7]) / 4)  # train days before val's first target
    np.testing.assert_array_equal(val.target[0], np.array([8, 9]) / 4)
    np.testing.assert_array_equal(test.history[2], np.array([8, 9, 10]) / 2)  # e1: val days, (18 19 20 - 10) / 2
    np.testing.assert_array_equal(test.target[3], np.array([12, 13]) / 2)


def test_reviews_are_those_known_at_the_origin():
    train = windows.make_windows(_panel(), "train", L, H)
    # e0's review is created on day 3: unknown at origin 2, known from origin 3 (mean 4 / 5, log1p(1))
    np.testing.assert_allclose(train.reviews[0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(train.reviews[1], [0.8, np.log1p(1.0), 1.0], rtol=1e-6)
    np.testing.assert_allclose(train.reviews[4], [0.0, 0.0, 1.0])  # e1 has none
    without = windows.make_windows(_panel(reviews_available=False), "train", L, H)
    assert (without.reviews[:, 2] == 0).all()  # the availability flag


def test_a_history_longer_than_the_split_gives_no_windows():
    empty = windows.make_windows(_panel(), "train", history_days=9, horizon=H)
    assert len(empty) == 0 and empty.history.shape == (0, 9) and empty.target.shape == (0, H)
    assert empty.calendar.shape == (0, H, 2) and empty.reviews.shape == (0, 3)


def test_to_units_inverts_the_scaling_for_targets_and_samples():
    train = windows.make_windows(_panel(), "train", L, H)
    np.testing.assert_array_equal(train.to_units(train.history)[4], [13, 14, 15])
    np.testing.assert_array_equal(train.to_units(train.target), [[3, 4], [4, 5], [5, 6], [6, 7], [16, 17]])
    samples = np.stack([train.target, 2 * train.target], axis=1)  # (N, K = 2, H)
    units = train.to_units(samples)
    assert units.shape == (5, 2, H) and units.dtype == np.float64
    np.testing.assert_array_equal(units[4, 1], [10 + 2 * 6, 10 + 2 * 7])
    with pytest.raises(ValueError, match="got 2 rows for 5 windows"):
        train.to_units(train.target[:2])


def test_subset_by_mask_and_by_index():
    train = windows.make_windows(_panel(), "train", L, H)
    e1 = train.subset(train.entity == 1)
    assert len(e1) == 1 and str(e1.origin[0]) == "2017-01-07" and e1.scale_min.tolist() == [10]
    picked = train.subset(np.array([3, 0]))
    assert picked.origin.astype(str).tolist() == ["2017-01-07", "2017-01-04"]
    np.testing.assert_array_equal(picked.target[1], train.target[0])
    picked.entity_ids.append("e2")  # names are copied, not shared with the parent
    assert train.entity_ids == ["e0", "e1"]


def test_keys_name_entity_and_origin_of_each_window():
    keys = windows.make_windows(_panel(), "val", L, H).keys()
    assert keys["entity_id"].tolist() == ["e0", "e0", "e1", "e1"]
    assert keys["origin"].dt.strftime("%Y-%m-%d").tolist() == ["2017-01-09", "2017-01-10"] * 2


def test_subsample_is_seeded_keeps_window_order_and_all_when_asked():
    ws = windows.random_windowset(40, seed=3)
    kept = windows.subsample(ws, 10, seed=1)
    index = [int(np.flatnonzero((ws.history == row).all(axis=1))[0]) for row in kept.history]
    assert len(kept) == 10 and index == sorted(index) and len(set(index)) == 10
    np.testing.assert_array_equal(kept.origin, ws.origin[index])
    np.testing.assert_array_equal(windows.subsample(ws, 10, seed=1).history, kept.history)
    draws = {tuple(windows.subsample(ws, 10, seed=s).origin.astype(np.int64)) for s in range(5)}
    assert len(draws) > 1  # the seed chooses the windows
    assert windows.subsample(ws, 0, seed=1) is ws and windows.subsample(ws, 40, seed=1) is ws


def test_a_subsample_of_a_subsample_is_a_subset_of_the_first():
    ws = windows.random_windowset(40, seed=3)
    first = windows.subsample(ws, 20, seed=0)
    second = windows.subsample(first, 5, seed=0)
    rows = {row.tobytes() for row in first.history}
    assert len(second) == 5 and all(row.tobytes() in rows for row in second.history)


def test_windowset_save_load_round_trip(tmp_path):
    ws = windows.make_windows(_panel(), "val", L, H)
    ws.save(tmp_path / "w.npz")
    back = WindowSet.load(tmp_path / "w.npz")
    for name in WindowSet._ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(ws, name))
        assert getattr(back, name).dtype == getattr(ws, name).dtype
    assert back.entity_ids == ws.entity_ids and back.calendar_names == ws.calendar_names
    assert back.review_names == ws.review_names
    with pytest.raises(FileNotFoundError, match="missing.npz is missing: run stage 01"):
        WindowSet.load(tmp_path / "missing.npz")


def test_random_windowset_is_seeded_whole_units_in_0_1():
    a, b = windows.random_windowset(16, seed=5), windows.random_windowset(16, seed=5)
    np.testing.assert_array_equal(a.history, b.history)
    assert not np.array_equal(a.history, windows.random_windowset(16, seed=6).history)
    assert 0 <= a.history.min() and a.target.max() <= 1
    units = a.to_units(a.target)
    np.testing.assert_allclose(units, np.rint(units), atol=1e-5)
    assert (a.calendar[..., :7].sum(axis=2) == 1).all()  # one weekday per target day
