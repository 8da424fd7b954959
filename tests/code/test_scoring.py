"""Tests of salesgan_utils.scoring: M5 scores of a hand-made long forecast table, the window keys, the model names
and the plain-words verdict, each against answers computed by hand."""
import numpy as np
import pandas as pd
import pytest

from salesgan_utils import scoring
from salesgan_utils.windows import WindowSet

LSTM_CONFIG = "mse lr=0.001"


@pytest.fixture
def train_df():
    """Two entities, four train days each: a = 0 2 0 2 (one-step naive MSE 4, 4 units), b = 0 1 0 1 (MSE 1, 2 units:
    weights 2/3 and 1/3 by units)."""
    days = pd.date_range("2017-01-01", periods=4)
    return pd.DataFrame({"unique_id": ["a"] * 4 + ["b"] * 4, "ds": list(days) * 2,
                         "y": [0.0, 2.0, 0.0, 2.0, 0.0, 1.0, 0.0, 1.0], "revenue": [0.0, 5.0, 0.0, 5.0] + [0.0] * 4})


def _forecasts() -> pd.DataFrame:
    """One test origin, two steps per entity; a is active, b is not. Actuals: a = 2 0, b = 1 3.

    zero forecasts 0 everywhere; lstm_real forecasts 1 1 for both entities.
    """
    origin = pd.Timestamp("2017-01-10")
    keys = pd.DataFrame({"entity_id": ["a", "a", "b", "b"], "origin": [origin] * 4, "step": [1, 2, 1, 2],
                         "actual": [2.0, 0.0, 1.0, 3.0], "active": [True, True, False, False]})
    keys["date"] = keys["origin"] + pd.to_timedelta(keys["step"], unit="D")
    fits = [("zero", "", scoring.BASELINE_SEED, 0, [0.0, 0.0, 0.0, 0.0]),
            (scoring.REFERENCE, LSTM_CONFIG, 0, 8, [1.0, 1.0, 1.0, 1.0])]
    parts = [keys.assign(model=m, config=c, seed=s, n_real=n, split="test", forecast=f) for m, c, s, n, f in fits]
    return pd.concat(parts, ignore_index=True)


# By hand: RMSSE = sqrt(mean squared error over the entity's rows / its naive MSE).
#   zero:      a: errors 2 0 -> MSE 2 -> sqrt(2/4);  b: errors 1 3 -> MSE 5 -> sqrt(5/1)
#   lstm_real: a: errors 1 1 -> MSE 1 -> sqrt(1/4);  b: errors 0 2 -> MSE 2 -> sqrt(2/1)
EXPECTED = {  # (model, subset): (wrmsse, mae, rmse, bias, n_series, n_rows)
    ("zero", "all"): (2 / 3 * np.sqrt(0.5) + 1 / 3 * np.sqrt(5.0), 1.5, np.sqrt(3.5), -1.5, 2, 4),
    ("zero", "active"): (np.sqrt(0.5), 1.0, np.sqrt(2.0), -1.0, 1, 2),  # weights renormalised over a alone
    (scoring.REFERENCE, "all"): (2 / 3 * 0.5 + 1 / 3 * np.sqrt(2.0), 1.0, np.sqrt(1.5), -0.5, 2, 4),
    (scoring.REFERENCE, "active"): (0.5, 1.0, 1.0, 0.0, 1, 2),
}


@pytest.mark.parametrize("shuffled", [False, True])
def test_score_forecasts_on_a_hand_made_two_entity_table(train_df, shuffled):
    forecasts = _forecasts()
    if shuffled:  # the row order of the long table changes nothing
        forecasts = forecasts.iloc[np.random.default_rng(0).permutation(len(forecasts))]
    scores = scoring.score_forecasts(forecasts, train_df, scoring.entity_weights(train_df))
    table = scores.table.set_index(["model", "subset"])
    assert len(table) == 4 and set(table["split"]) == {"test"}
    for key, (wrmsse, mae, rmse, bias, n_series, n_rows) in EXPECTED.items():
        row = table.loc[key]
        assert row[["wrmsse", "mae", "rmse", "bias"]].tolist() == pytest.approx([wrmsse, mae, rmse, bias])
        assert (row["n_series"], row["n_rows"]) == (n_series, n_rows)
    assert table.loc[(scoring.REFERENCE, "all"), "config"] == LSTM_CONFIG


def test_score_forecasts_keeps_rmsse_per_series_and_the_daily_loss(train_df):
    scores = scoring.score_forecasts(_forecasts(), train_df, scoring.entity_weights(train_df))
    zero_id, lstm_id = f"zero||{scoring.BASELINE_SEED}|0", f"{scoring.REFERENCE}|{LSTM_CONFIG}|0|8"
    series = scores.per_series[("test", "all")]
    assert series.loc["a", zero_id] == pytest.approx(np.sqrt(0.5)) and series.loc["b", zero_id] == pytest.approx(
        np.sqrt(5.0))
    assert series.loc["b", lstm_id] == pytest.approx(np.sqrt(2.0))
    assert list(scores.per_series[("test", "active")].index) == ["a"]
    # one origin: sum over rows of (f - y)^2 * weight / naive MSE
    daily = scores.daily_loss[("test", "all")]
    assert daily.shape == (1, 2)
    assert daily[zero_id].iloc[0] == pytest.approx((4 + 0) * (2 / 3) / 4 + (1 + 9) * (1 / 3) / 1)
    assert daily[lstm_id].iloc[0] == pytest.approx((1 + 1) * (2 / 3) / 4 + (0 + 4) * (1 / 3) / 1)


def test_score_forecasts_skips_a_subset_without_rows(train_df):
    forecasts = _forecasts().assign(active=False)
    scores = scoring.score_forecasts(forecasts, train_df, scoring.entity_weights(train_df))
    assert set(scores.table["subset"]) == {"all"} and ("test", "active") not in scores.per_series


@pytest.mark.parametrize("break_it,message", [
    (lambda f: f.drop(index=7), "do not forecast the same windows"),
    (lambda f: f.mask(f.index.to_series() == 7, f.assign(origin=pd.Timestamp("2017-01-11"))), "(origin)"),
])
def test_fits_that_forecast_different_windows_are_refused(train_df, break_it, message):
    with pytest.raises(ValueError, match=message):
        scoring.score_forecasts(break_it(_forecasts()), train_df, scoring.entity_weights(train_df))


def test_entity_weights_by_units_and_revenue(train_df):
    units = scoring.entity_weights(train_df)
    assert units.to_dict() == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert scoring.entity_weights(train_df, by="revenue").to_dict() == pytest.approx({"a": 1.0, "b": 0.0})
    with pytest.raises(ValueError, match="weights by 'orders'.*use 'units' or 'revenue'"):
        scoring.entity_weights(train_df, by="orders")
    with pytest.raises(ValueError, match="need column 'revenue'"):
        scoring.entity_weights(train_df.drop(columns="revenue"), by="revenue")


def test_train_series_keeps_the_train_rows_sorted():
    panel = pd.DataFrame({"entity_id": ["b", "a", "a", "a"], "split": ["train", "train", "val", "train"],
                          "date": pd.to_datetime(["2017-01-01", "2017-01-02", "2017-01-03", "2017-01-01"]),
                          "units": [1, 2, 3, 4], "revenue": [1.0, 2.0, 3.0, 4.0]})
    out = scoring.train_series(panel)
    assert out["unique_id"].tolist() == ["a", "a", "b"] and out["y"].tolist() == [4.0, 2.0, 1.0]
    assert out["revenue"].tolist() == [4.0, 2.0, 1.0]


def _windows() -> WindowSet:
    """Two windows of 4 history days and 2 target days, scaled by range 2 (and min 1 for the second entity)."""
    history = np.array([[1.0, 0.0, 0.0, 0.0],  # e0: 2 units four days before the origin, none since
                        [0.0, 0.0, 0.0, 0.5]], dtype=np.float32)  # e1: 1 + 2 * 0.5 = 2 units on the origin day
    target = np.array([[0.5, 1.5], [0.0, 1.0]], dtype=np.float32)
    n = 2
    return WindowSet(history=history, target=target, calendar=np.zeros((n, 2, 1), np.float32),
                     reviews=np.zeros((n, 3), np.float32), entity=np.array([0, 1], np.int32),
                     origin=np.array(["2017-03-01", "2017-03-05"], dtype="datetime64[D]"),
                     scale_min=np.array([0.0, 1.0]), scale_range=np.array([2.0, 2.0]), naive_mae=np.ones(n),
                     naive_mse=np.ones(n), demand_class=np.zeros(n, np.int8), entity_ids=["e0", "e1"])


@pytest.mark.parametrize("active_days,expected", [(2, [False, True]), (4, [True, True]), (30, [True, True])])
def test_window_keys_by_hand(active_days, expected):
    keys = scoring.window_keys(_windows(), active_days=active_days)
    assert keys["entity_id"].tolist() == ["e0", "e0", "e1", "e1"] and keys["step"].tolist() == [1, 2, 1, 2]
    assert keys["date"].dt.strftime("%m-%d").tolist() == ["03-02", "03-03", "03-06", "03-07"]
    assert (keys["date"] - keys["origin"]).dt.days.tolist() == [1, 2, 1, 2]
    assert keys["actual"].tolist() == [1.0, 3.0, 1.0, 3.0]  # units: 2 * scaled + min
    # e0 sold 2 units four days before its origin; e1's scale minimum is 1 unit: it sold on every history day
    assert keys["active"].tolist() == list(np.repeat(expected, 2))


@pytest.mark.parametrize("augmentation,ratio,expected", [("real", 0.0, "lstm_real"), ("real", 2.0, "lstm_real"),
                                                         ("gan", 0.5, "lstm_gan_r0.5"), ("jitter", 1.0,
                                                                                           "lstm_jitter_r1")])
def test_variant_name(augmentation, ratio, expected):
    assert scoring.variant_name(augmentation, ratio) == expected


@pytest.mark.parametrize("loss,lr,expected", [("poisson", 0.003, "poisson lr=0.003"), ("mse", 1e-3, "mse lr=0.001"),
                                              ("tweedie", 1e-4, "tweedie lr=0.0001")])
def test_config_label(loss, lr, expected):
    assert scoring.config_label(loss, lr) == expected


def test_change_text_with_one_seed_names_the_missing_interval():
    one_seed = {"pct": 2.0, "pct_low": None, "pct_high": None, "p_seed": None, "n_seeds": 1}
    assert scoring._change_text(one_seed) == "+2.0% (one seed: no interval)"
    assert scoring._judgement(one_seed) == "not testable (one seed)"


RULE = "entity sold >= 1 unit in the 30 days up to the origin"


def _arm(pct, low, high, p):
    return {"pct": pct, "pct_low": low, "pct_high": high, "p_seed": p, "n_seeds": 3}


def _summary(with_gan=True, beats=None):
    arms = {"real": {"augmentation": "real", "ratio": 0.0, "model": "lstm_real"},
            "simple": {"augmentation": "jitter", "ratio": 1.0, "model": "lstm_jitter_r1"}}
    small = {"real": {"wrmsse": 0.9}, "simple": _arm(1.0, -1.0, 3.0, 0.4)}
    large = {"real": {"wrmsse": 0.8}}
    if with_gan:
        arms["gan"] = {"augmentation": "gan", "ratio": 0.5, "model": "lstm_gan_r0.5"}
        small["gan"], large["gan"] = _arm(-5.0, -8.0, -2.0, 0.01), _arm(4.0, 1.0, 7.0, 0.02)
    return {
        "validation_choices": {"config": "poisson lr=0.003", "arms": arms,
                               "real_only_beats_on_val": beats if beats is not None else
                               {"seasonal_naive": True, "moving_average": False}},
        "regimes": [{"label": "100", "active": small}, {"label": "all", "active": large},
                    {"label": "50", "active": {}}],  # no real-only fit at 50: not reported
        "headline": {"subset_rule": RULE}, "entity_level": "product",
        "regime": {"mean_units_per_day": {"train": 0.5, "val": 0.4, "test": 0.25},
                   "demand_change_train_to_test_pct": -50.0,
                   "test": {"zero_target_share_all": 0.6, "zero_target_share_active": 0.3, "active_share": 0.5}},
    }


GAN_100 = "-5.0% [-8.0%, -2.0%] (p = 0.01 over 3 seeds)"
SIMPLE_100 = "+1.0% [-1.0%, +3.0%] (p = 0.4 over 3 seeds)"
GAN_ALL = "+4.0% [+1.0%, +7.0%] (p = 0.02 over 3 seeds)"


def test_verdict_on_a_hand_made_summary():
    expected = (
        "GAN augmentation (ratio 0.5, chosen on validation) lowered test WRMSSE at 100 real windows and raised it at "
        "all real windows; jitter augmentation (ratio 1, chosen on validation) lowered test WRMSSE at no data size "
        "tried; the real-only LSTM (poisson lr=0.003, chosen on validation) did not beat moving_average on "
        f"validation WRMSSE. Change in test WRMSSE versus real-only on active windows ({RULE}), 95% interval over "
        f"seeds: 100 real windows: real-only 0.900; GAN samples {GAN_100}, better; the simple augmentation "
        f"{SIMPLE_100}, no measurable change | all real windows: real-only 0.800; GAN samples {GAN_ALL}, worse.")
    assert scoring.verdict(_summary()) == expected


def test_verdict_without_gan_samples_and_with_both_baselines_beaten():
    text = scoring.verdict(_summary(with_gan=False, beats={"seasonal_naive": True, "moving_average": True}))
    assert text.startswith("No GAN samples were given, so GAN augmentation was not measured; jitter augmentation")
    assert "beat seasonal naive and moving average on validation WRMSSE." in text and "; GAN samples" not in text
    # a size where no augmentation was scored names real-only alone
    assert text.endswith("| all real windows: real-only 0.800.")
    assert "had no baseline to beat" in scoring.verdict(_summary(beats={}))


def test_answer_markdown_on_a_hand_made_summary():
    summary = _summary()
    summary["verdict"] = "VERDICT"
    assert scoring.answer_markdown(summary).splitlines() == [
        "**VERDICT**", "",
        "Regime: product level; mean units per entity-day 0.500 in train, 0.400 in validation, 0.250 in test "
        "(-50% train → test); 60% of all test windows and 30% of active ones have all-zero targets; 50% of test "
        "windows are active.", "",
        "| real windows | real-only WRMSSE | GAN: change [95% CI], p | simple: change [95% CI], p |",
        "|---:|---:|:---|:---|",
        f"| 100 | 0.900 | {GAN_100} | {SIMPLE_100} |",
        f"| all | 0.800 | {GAN_ALL} | – |",
    ]
