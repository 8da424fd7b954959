"""Tests of salesgan_utils.plots: each figure of tiny hand-made inputs carries the expected labels, titles, lines
and bars (the values drawn are checked where they are known by hand), and `save` writes a PNG."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from salesgan_utils import plots
from salesgan_utils.data import Panel
from salesgan_utils.windows import WindowSet

matplotlib.use("Agg")  # no display: figures render off-screen


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _panel() -> Panel:
    """Ten days (train 0-5, val 6-7, test 8-9). e0 sells 1 unit a day (smooth), e1 2 units every third day from
    day 2 (train ADI 2: intermittent), e2 sells once, on day 9 (no train demand)."""
    units = np.zeros((3, 10), np.float32)
    units[0] = 1
    units[1, [2, 5, 8]] = 2
    units[2, 9] = 1
    days = np.arange(10)
    zeros = np.zeros((3, 10), np.float32)
    return Panel(entity_ids=np.array(["e0", "e1", "e2"], dtype=object),
                 dates=(np.datetime64("2017-01-02") + days).astype("datetime64[D]"), units=units, revenue=units,
                 first_day=np.array([0, 2, 9]), train_end=6, val_end=8,
                 calendar=np.zeros((10, 1), np.float32), calendar_names=["day"], review_count=zeros,
                 review_score_sum=zeros, reviews_available=False, scale_min=np.zeros(3), scale_range=np.ones(3),
                 naive_mae=np.ones(3), naive_mse=np.ones(3), demand_class=np.array([0, 2, 2], np.int8))


def _windows() -> WindowSet:
    """Four windows, 3 history days, 2 target days, scale range 1 (scaled = units); targets of windows 1 and 3 sell."""
    n = 4
    target = np.array([[0, 0], [1, 2], [0, 0], [3, 0]], np.float32)
    history = np.array([[0, 1, 0], [2, 0, 1], [0, 0, 0], [1, 1, 1]], np.float32)
    return WindowSet(history=history, target=target, calendar=np.zeros((n, 2, 1), np.float32),
                     reviews=np.zeros((n, 3), np.float32), entity=np.array([0, 1, 0, 1], np.int32),
                     origin=(np.datetime64("2017-03-01") + np.arange(n)).astype("datetime64[D]"),
                     scale_min=np.zeros(n), scale_range=np.ones(n), naive_mae=np.ones(n), naive_mse=np.ones(n),
                     demand_class=np.zeros(n, np.int8), entity_ids=["e0", "e1"])


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _bar_heights(ax) -> list[float]:
    return [patch.get_height() for patch in ax.patches]


def test_units_over_time_draws_the_daily_total_and_its_7_day_mean():
    fig = plots.units_over_time(_panel())
    (ax,) = fig.axes
    total, mean = ax.lines
    np.testing.assert_array_equal(total.get_ydata(), [1, 1, 3, 1, 1, 3, 1, 1, 3, 2])
    assert mean.get_ydata()[2] == pytest.approx(5 / 3)  # days 0-2, min_periods=1
    assert _legend_texts(ax) == ["7-day mean", "train", "val", "test"]
    assert (ax.get_xlabel(), ax.get_title()) == ("purchase date", "Daily units over time, by split")
    assert ax.get_ylabel() == "units sold per day (all kept entities)"


def test_top_categories_draws_the_n_largest_with_the_largest_on_top():
    fig = plots.top_categories(pd.Series({"a": 5, "b": 9, "c": 1, "d": 7}), n=3)
    (ax,) = fig.axes
    assert [patch.get_width() for patch in ax.patches] == [5, 7, 9]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "d", "b"]
    assert ax.get_title() == "Top 3 categories by units" and ax.get_ylabel() == "category"


def test_zero_share_hist_counts_entities_by_their_share_of_zero_days():
    (ax,) = plots.zero_share_hist(_panel()).axes
    heights = _bar_heights(ax)
    # from each first sale: e0 0 of 10 days without a sale, e1 5 of 8 (0.625, bin 25 of 40), e2 0 of 1
    assert len(heights) == 40 and sum(heights) == 3 and heights[0] == 2 and heights[25] == 1
    assert ax.get_xlabel() == "share of days with zero units" and ax.get_ylabel() == "entities"


def test_demand_classes_scatters_adi_and_counts_entities_per_class():
    fig = plots.demand_classes(_panel())
    scatter, bars = fig.axes[:2]
    # train ADI: e0 6 / 6 = 1, e1 4 / 2 = 2, e2 none: drawn at the right edge (train_end = 6); CV^2 0 for all
    points = np.concatenate([c.get_offsets() for c in scatter.collections])
    np.testing.assert_allclose(sorted(points[:, 0]), [1, 2, 6])
    np.testing.assert_allclose(points[:, 1], 0)
    assert scatter.get_xscale() == "log" and scatter.get_title() == "Demand classes (train period)"
    assert _bar_heights(bars) == [1, 0, 2, 0]
    assert [label.get_text() for label in bars.get_xticklabels()] == ["smooth", "erratic", "intermittent", "lumpy"]


def test_review_scores_shows_the_share_of_each_star_count():
    (ax,) = plots.review_scores(pd.Series([5, 5, 4, 1])).axes
    assert _bar_heights(ax) == [25, 0, 0, 25, 50]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["1", "2", "3", "4", "5"]
    assert ax.get_ylabel() == "share of reviews (%)"


def test_gan_training_curves_marks_the_best_validation_epoch():
    history = pd.DataFrame({"epoch": [1, 2, 3], "d_loss": [1.0, 0.5, 0.2], "g_loss": [0.1, 0.2, 0.3],
                            "wasserstein": [2.0, 1.0, 0.5], "gp": [0.3, 0.2, 0.1], "val_crps": [np.nan, 0.5, 0.7]})
    losses, critic, crps = plots.gan_training_curves(history).axes
    assert _legend_texts(losses) == ["critic loss", "generator loss"]
    np.testing.assert_array_equal(losses.lines[0].get_ydata(), [1.0, 0.5, 0.2])
    assert _legend_texts(critic) == ["Wasserstein estimate", "gradient penalty"]
    (line,) = crps.lines
    np.testing.assert_array_equal(line.get_xdata(), [2, 3])  # the epoch without validation is left out
    assert _legend_texts(crps) == ["best (epoch 2)"]
    assert crps.get_ylabel() == "CRPS (units per day)"


@pytest.mark.filterwarnings("ignore:No artists with labels found")  # the empty Wasserstein panel's legend
def test_gan_training_curves_draws_only_the_columns_it_has():
    losses, critic, crps = plots.gan_training_curves(pd.DataFrame({"epoch": [1, 2], "d_loss": [1.0, 0.5]})).axes
    assert len(losses.lines) == 1 and len(critic.lines) == 0 and len(crps.lines) == 0


def test_sample_fans_draws_history_samples_median_and_target_of_windows_with_sales():
    samples = np.array([[[0, 1], [2, 3], [4, 5]]] * 4, dtype=float)  # (N = 4, K = 3, H = 2) units
    fig = plots.sample_fans(_windows(), samples, n_examples=2, seed=0)
    first, second, spare = fig.axes
    assert first.get_title() == "e1 @ 2017-03-02" and second.get_title() == "e1 @ 2017-03-04"
    # history, three samples, median, real target, the origin line
    assert len(first.lines) == 1 + 3 + 1 + 1 + 1 and not spare.axison
    np.testing.assert_array_equal(first.lines[0].get_xdata(), [-2, -1, 0])
    np.testing.assert_array_equal(first.lines[0].get_ydata(), [2, 0, 1])
    np.testing.assert_array_equal(first.lines[4].get_ydata(), [2, 3])  # the median sample
    np.testing.assert_array_equal(first.lines[5].get_ydata(), [1, 2])  # the real target
    assert first.get_xlabel() == "day relative to forecast origin" and first.get_ylabel() == "units"


def test_value_histograms_compare_the_zero_share_of_real_and_synthetic_days():
    samples = np.ones((4, 2, 2))
    samples[0, 0] = 0  # 2 of 16 synthetic days are zero
    values, zeros = plots.value_histograms(_windows(), samples).axes
    assert _bar_heights(zeros) == pytest.approx([100 * 5 / 8, 100 * 2 / 16])
    assert _legend_texts(values) == ["real", "synthetic"] and values.get_yscale() == "log"
    assert zeros.get_title() == "Days with (rounded) zero units"


def test_pca_embedding_projects_real_and_synthetic_targets_on_the_real_components():
    samples = np.repeat(_windows().target[:, None, :], 2, axis=1) + 1.0  # (N, K, H), shifted by 1
    (ax,) = plots.pca_embedding(_windows(), samples, seed=0, max_points=3).axes
    real, synthetic = ax.collections
    assert len(real.get_offsets()) == len(synthetic.get_offsets()) == 3
    assert _legend_texts(ax) == ["real", "synthetic"] and ax.get_xlabel() == "PC 1 (of real targets)"
    # the real points are centred on their own mean; a shift by 1 unit a day moves them by a fixed vector
    shift = synthetic.get_offsets() - real.get_offsets()
    np.testing.assert_allclose(shift, np.repeat(shift[:1], 3, axis=0), atol=1e-9)
    assert np.linalg.norm(shift[0]) == pytest.approx(np.sqrt(2))


def test_acf_comparison_draws_correlations_in_lag_order():
    quality = {f"{p}_{k}_lag{lag}": v for p in ("acf", "xcf") for k, v0 in (("real", 0.5), ("synthetic", 0.4))
               for lag, v in ((1, v0), (2, v0 / 2), (10, v0 / 4))}
    acf, xcf = plots.acf_comparison(quality).axes
    for ax in (acf, xcf):
        real, synthetic, zero = ax.lines
        np.testing.assert_array_equal(real.get_xdata(), [1, 2, 10])  # lag 10 after lag 2: numeric order
        np.testing.assert_allclose(synthetic.get_ydata(), [0.4, 0.2, 0.1])
        assert _legend_texts(ax) == ["real", "synthetic"] and ax.get_xlabel() == "lag (days)"
    assert acf.get_title() == "Autocorrelation within the 7-day targets"


def test_wrmsse_change_by_size_draws_one_errorbar_line_per_arm():
    rows = []
    for subset in ("active", "all"):
        for n_real in (250, 1000):
            rows.append(dict(subset=subset, n_real=n_real, arm="real", model="lstm_real", pct=0.0, pct_low=np.nan,
                             pct_high=np.nan))
            pct = -2.0 * n_real / 250
            rows.append(dict(subset=subset, n_real=n_real, arm="gan", model="lstm_gan_r0.5", pct=pct,
                             pct_low=pct - 3.0, pct_high=pct + 1.0))
            rows.append(dict(subset=subset, n_real=n_real, arm="simple", model="lstm_jitter_r1", pct=1.0,
                             pct_low=0.0, pct_high=2.0))
    (ax,) = plots.wrmsse_change_by_size(pd.DataFrame(rows)).axes
    gan, simple = ax.containers
    np.testing.assert_allclose(np.asarray(gan.lines[0].get_ydata(), float), [-2.0, -8.0])
    # side by side on the log axis
    np.testing.assert_allclose(np.asarray(gan.lines[0].get_xdata(), float), [250 * 0.97, 1000 * 0.97])
    np.testing.assert_allclose(np.asarray(simple.lines[0].get_ydata(), float), [1.0, 1.0])
    assert set(_legend_texts(ax)) == {"LSTM + GAN ×0.5", "LSTM + jitter ×1", "LSTM (real only)"}
    assert [label.get_text() for label in ax.get_xticklabels()] == ["250", "1,000"]
    assert ax.get_ylabel() == "change in test WRMSSE vs real only (%)" and "active test windows" in ax.get_title()


def test_save_writes_a_png_under_figures(tmp_path):
    fig = plots.review_scores(pd.Series([1, 2]))
    path = plots.save(fig, tmp_path, "scores")
    assert path == tmp_path / "figures" / "scores.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["scores.png"]  # no temporary file left
