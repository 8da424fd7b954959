"""What the report (notebook 05) shows, as HTML: the first screen (the data, the verdict per data size, the
headline figure, the caveats, how to read it), the main tables, and each stage's section with its raw material
(data checks, per-epoch tables, configurations, other uncertainty measures, the reproducibility record) folded in
`<details>` appendices.

Rules every table follows: no index column, readable model names (`answer.model_name`), at most four significant
digits (`answer.sig`), no dict or JSON dumps (nested values become rows). Strings from the user's disk are escaped.
The words come from `answer`, the one source the README's "Result so far" also renders.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from salesgan_utils import answer
from salesgan_utils.paths import STAGES, project_root

HEADLINE_FIGURE = "wrmsse_change_by_size.png"
STAGE_TITLES = {1: "data and preprocessing", 2: "GAN training", 3: "sample generation and quality",
                4: "augmentation benchmark"}


# ------------------------------------------------------------------------------------------------- building blocks
def escape(value) -> str:
    return html.escape(str(value))


def cell(value) -> str:
    """A table cell's text: numbers with at most four significant digits, lists joined, nested dicts as
    `key value` pairs (never `{...}`)."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else ("yes" if value else "no")
    if isinstance(value, (int, float)):
        return answer.sig(value)
    if isinstance(value, dict):
        return "; ".join(f"{key} {cell(item)}" for key, item in value.items()) or "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(item) for item in value) or "none"
    try:  # numpy scalars
        return answer.sig(float(value)) if hasattr(value, "dtype") else str(value)
    except (TypeError, ValueError):
        return str(value)


def table(frame, caption: str = "") -> str:
    """A DataFrame as an HTML table: no index column, every cell through `cell`."""
    head = "".join(f"<th>{escape(column)}</th>" for column in frame.columns)
    def td(value) -> str:  # numbers right-aligned (the lab style), words left
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return f"<td{'' if number else ' style=text-align:left'}>{escape(cell(value))}</td>"

    rows = "".join("<tr>" + "".join(td(value) for value in row) + "</tr>" for row in frame.itertuples(index=False))
    title = f"<caption style='caption-side:top;text-align:left'>{escape(caption)}</caption>" if caption else ""
    return f"<table class='dataframe'>{title}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def pairs(rows, caption: str = "", header=("item", "value")) -> str:
    """Two-column table of (name, value) rows."""
    import pandas as pd

    return table(pd.DataFrame(list(rows), columns=list(header)), caption)


def details(summary: str, inner: str) -> str:
    """A collapsed appendix."""
    return f"<details><summary><b>{escape(summary)}</b></summary>{inner}</details>"


def image(path: str | Path, style: str = "max-width:100%") -> str:
    """A PNG embedded in the page (no file beside the report needed)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    alt = escape(Path(path).stem.replace("_", " "))
    return f"<img alt='{alt}' src='data:image/png;base64,{data}' style='{style}'/>"


def figures(paths_list, skip: tuple[str, ...] = ()) -> str:
    return "".join(f"<p>{image(path, 'max-width:900px;width:100%')}</p>" for path in paths_list
                   if Path(path).name not in skip)


def missing(stage: int) -> str:
    return (f"<blockquote><b>Stage {stage:02d} did not run</b> ({STAGE_TITLES[stage]}): <code>{STAGES[stage]}/</code>"
            f" has no artifacts in this run, so this section is empty. Run <code>bash run_all.sh --only "
            f"{stage:02d}</code>.</blockquote>")


# ------------------------------------------------------------------------------------------------- first screen
def source_banner(artifacts: dict) -> str:
    """A loud banner: REAL Olist data, DEMO data, or stage 01 missing."""
    meta = artifacts["metadata"]
    if meta is None:
        return "<div style='background:#777;color:#fff;padding:8px'>Stage 01 did not run: no data source.</div>"
    if meta["is_demo"]:
        return ("<div style='background:#c00;color:#fff;padding:8px;font-size:1.2em;font-weight:bold'>"
                "DEMO DATA — not Olist. Every number below comes from generated tables.</div>")
    reviews = "" if meta.get("reviews_available") else (
        "<div style='background:#e69500;padding:6px'><b>Reviews table unavailable</b>: review features were "
        "zero and flagged unavailable in this run.</div>")
    # Folder names come from the user's disk: escaped, or `<img src=x onerror=...>` would run in report.html.
    folder, entity, count = (escape(v) for v in (meta["data_source"]["folder"], meta["entity"], meta["n_entities"]))
    return (f"<div style='background:#1b7837;color:#fff;padding:8px'><b>REAL Olist data</b> from "
            f"<code style='color:#fff'>{folder}</code> ({entity} level, {count} entities).</div>" + reviews)


def _markdown_inline(text: str) -> str:
    """`**bold**` in answer's sentences as HTML (the rest escaped)."""
    parts = escape(text).split("**")
    return "".join(f"<b>{part}</b>" if i % 2 else part for i, part in enumerate(parts))


def first_screen(artifacts: dict, profile: str = "") -> str:
    """The answer on one screen: the data and profile line, the verdict per data size, the headline figure beside
    the caveats, and how to read them."""
    summary, meta = artifacts["summary"], artifacts["metadata"]
    line = answer.data_line(meta, profile, Path(artifacts["run_path"]).name)
    verdict = "".join(f"<li>{_markdown_inline(s)}</li>" for s in answer.verdict_sentences(summary))
    verdict += "".join(f"<li>{_markdown_inline(s)}</li>" for s in answer.verdict_parts(summary))
    figure_path = Path(artifacts["run_path"]) / STAGES[4] / "figures" / HEADLINE_FIGURE
    study = artifacts.get("study")
    if study:  # the backtest over every fold and its forest plot lead; this run's own test period follows
        from .study import STUDY_FIGURE, STUDY_FILE, stale_sources

        stale = stale_sources(study, Path(artifacts["run_path"]) / STAGES[4])
        warning = (f"<li><b>{STUDY_FILE} is out of date</b>: {len(stale)} of the files it was computed from "
                   f"changed since (first: {escape(stale[0])}); rebuild it with <code>python -m "
                   f"salesgan_utils.study</code> over the fold runs (docs/results.md).</li>") if stale else ""
        verdict = (warning + "".join(f"<li>{_markdown_inline(s)}</li>" for s in answer.study_sentences(study))
                   + f"<li>This run's own test period (fold 0 alone):<ul>{verdict}</ul></li>")
        figure_path = figure_path.with_name(f"{STUDY_FIGURE}.png")
    figure = (image(figure_path, "width:100%;max-width:700px") if figure_path.is_file()
              else "<p><i>No headline figure: stage 04 has not drawn it in this run.</i></p>")
    notes = "".join(f"<li>{_markdown_inline(note)}</li>" for note in answer.caveats(
        summary, artifacts.get("model_summary"), meta))
    read = _markdown_inline(answer.how_to_read(summary))
    import os

    results_doc = os.path.relpath(project_root() / "docs" / "results.md", Path(artifacts["run_path"]))
    return (f"{source_banner(artifacts)}<p style='margin:6px 0'>{escape(line)}</p>"
            f"<h2 id='verdict' style='margin:6px 0'>Verdict</h2><ul id='verdict-sentences'>{verdict}</ul>"
            f"<div style='display:flex;gap:20px;align-items:flex-start;flex-wrap:wrap'>"
            f"<div id='headline-figure' style='flex:0 1 700px'>{figure}</div>"
            f"<div style='flex:1 1 380px;font-size:0.92em'><b>Caveats</b><ul>{notes or '<li>none computed</li>'}"
            f"</ul><p>{read}</p><p>Protocol, earlier runs and what this does not show: "
            f"<a href='{escape(results_doc)}'>docs/results.md</a>.</p></div></div>")


# ----------------------------------------------------------------------------------------------- main results
def _headline_rows(results, n_real: int, subset: str = "active"):
    """Test WRMSSE [95% CI over seeds] of the baselines and the LSTMs fitted on n_real windows, best first."""
    import pandas as pd

    part = results[(results["subset"] == subset) & results["n_real"].isin([0, n_real])]
    # the LSTMs of the study (every seed); the validation grid's one-seed tuning fits are in the appendix
    lstm = part["n_real"] > 0
    part = part[~lstm | (part["n_seeds"] == part.loc[lstm, "n_seeds"].max())].sort_values("wrmsse", kind="stable")

    def interval(row) -> str:
        low, high = row.get("wrmsse_low"), row.get("wrmsse_high")
        text = answer.sig(row["wrmsse"])
        return text if pd.isna(low) else f"{text} [{answer.sig(low)}, {answer.sig(high)}]"

    return pd.DataFrame({
        "model": [answer.model_name(m) for m in part["model"]],
        "training": part["config"].fillna("").replace("", "–"),
        "seeds": part["n_seeds"].astype(int),
        "WRMSSE [95% CI over seeds]": [interval(row) for _, row in part.iterrows()],
        "MAE": part["mae"], "RMSE": part["rmse"], "bias": part["bias"]})


def main_tables(artifacts: dict) -> str:
    """The change table (one uncertainty measure: the seed interval) and the headline table."""
    summary, results = artifacts["summary"], artifacts["results"]
    if summary is None or results is None:
        return missing(4)
    parts = []
    study = artifacts.get("study")
    if study:
        parts += [table(answer.study_table(study), "The backtest study: change in test WRMSSE pooled over the "
                                                   "(fold, seed) pairs of the folds that pass the gate (95% CI with "
                                                   "folds as blocks; Holm over the comparisons)"),
                  table(answer.fold_table(study), "The folds: test period, demand regime, the gate and whether "
                                                  "validation ranks the models as test does")]
    parts.append(table(answer.change_table(summary), "Change in test WRMSSE versus the real-only LSTM trained on the "
                                                     "same real windows (active test windows; 95% CI and p over "
                                                     "seeds)" + (" — this run's fold alone" if study else "")))
    reference = (summary.get("settings") or {}).get("reference_size")
    if reference is not None and "wrmsse" in results:
        parts.append(table(_headline_rows(results, reference),
                           f"Test WRMSSE on active windows, LSTMs trained on {reference:,} real windows, and the "
                           f"baselines; MAE, RMSE and bias (forecast − actual) in units per day"))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------- stage sections
def data_section(artifacts: dict) -> str:
    meta = artifacts["metadata"]
    if meta is None:
        return missing(1)
    dates, windows = meta["split_dates"], meta["windows"]
    text = (f"<p>{escape(answer.entities(meta['n_entities'], meta['entity']))}; train {dates['train_start']} to "
            f"{dates['train_end']}, validation to {dates['val_end']}, test to {dates['test_end']}; windows (30 days "
            f"of history → 7 days to forecast): train {windows['train']:,}, validation {windows['val']:,}, test "
            f"{windows['test']:,}.</p>")
    checks = [(name, _shorten(cell(value))) for name, value in flatten(meta["data_report"])]
    return text + figures(artifacts["figures"][1]) + details(
        f"Appendix: data checks ({len(checks)} counts and repairs of the tables as read)",
        pairs(checks, header=("check", "value")))


def flatten(record: dict, prefix: str = ""):
    """(dotted name, value) rows of a nested record: `files_read.orders.bytes`, never a dict as a value."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from flatten(value, name + ".")
        else:
            yield name, value


def _shorten(text: str, width: int = 80) -> str:
    """A long value (a path, a hash) cut to its last `width` characters: the end names the file."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def training_stop_text(summary: dict) -> str:
    """How stage 02 ended, from its model_summary.json: on its time budget (after how many steps) or not."""
    steps = summary.get("generator_steps")
    if summary.get("stopped_on_budget"):
        return (f"Training stopped on its time budget ({summary.get('max_minutes', 0):g} min) after {steps:,} "
                f"generator steps, before its last epoch; best.ckpt is the best checkpoint validated until then.")
    return "" if steps is None else f"Training ran all its epochs: {steps:,} generator steps."


def design_text(summary: dict) -> str:
    """Which generator design stage 02 trained and how it differs from the original design, in plain words."""
    config = summary.get("config") or {}
    if "design" not in config and "gan_variant" not in config:
        return ""
    from .gan import config_from_checkpoint, describe_design

    return describe_design(config_from_checkpoint(config))


def training_section(artifacts: dict) -> str:
    history, summary = artifacts["training_history"], artifacts["model_summary"] or {}
    if history is None:
        return missing(2)
    design = design_text(summary)
    head, _, levers = design.partition("\n")
    text = f"<p>{escape(training_stop_text(summary))}</p>"
    if design:
        items = "".join(f"<li>{escape(line.strip(' -'))}</li>" for line in levers.splitlines() if line.strip())
        text += f"<p>{escape(head)}</p>" + (f"<ul>{items}</ul>" if items else "")
    counts = summary.get("parameters") or {}
    if counts:
        text += (f"<p>Parameters: generator {counts.get('generator', 0):,}, critic {counts.get('critic', 0):,}; "
                 f"seed {escape(summary.get('seed', '–'))}, on {escape(summary.get('accelerator', '?'))}.</p>")
    appendix = details(f"Appendix: per-epoch training log ({len(history)} epochs)", table(history))
    config = summary.get("config") or {}
    if config:
        appendix += details("Appendix: the GAN's configuration", pairs(config.items(), header=("setting", "value")))
    return text + figures(artifacts["figures"][2]) + appendix


def quality_section(artifacts: dict) -> str:
    quality = artifacts["quality"]
    if quality is None:
        return missing(3)
    from .quality import quality_table

    return table(quality_table(quality).reset_index()) + figures(artifacts["figures"][3])


def benchmark_section(artifacts: dict) -> str:
    """The stage-04 material behind the first screen: figures, results by demand class, and the appendices (the
    other uncertainty measures, the validation choices)."""
    if artifacts["results"] is None:
        return missing(4)
    import pandas as pd

    from .study import STUDY_FIGURE

    parts = [figures(artifacts["figures"][4], skip=(HEADLINE_FIGURE, f"{STUDY_FIGURE}.png"))]
    by_class = artifacts["by_class"]
    if by_class is not None and len(by_class):
        by_class = by_class.assign(model=[answer.model_name(m) for m in by_class["model"]])
        parts.append(table(by_class.drop(columns=[c for c in ("demand_class",) if c in by_class]),
                           "Test WRMSSE by demand class (active windows, mean over seeds)"))
    by_size = Path(artifacts["run_path"]) / STAGES[4] / "results_by_size.csv"
    if by_size.is_file():
        frame = pd.read_csv(by_size)
        frame = frame[(frame["subset"] == "active") & (frame["arm"] != "real")]
        rows = pd.DataFrame({
            "real windows": frame["n_real"].astype(int), "model": [answer.model_name(m) for m in frame["model"]],
            "change": [answer.pct(v) for v in frame["pct"]],
            "95% CI over seeds": [f"[{answer.pct(a)}, {answer.pct(b)}]" for a, b in zip(frame["pct_low"],
                                                                                       frame["pct_high"])],
            "p over seeds": [answer.p_value(v) for v in frame["p_seed"]],
            "seed × entity bootstrap CI": [f"[{answer.pct(a)}, {answer.pct(b)}]"
                                           for a, b in zip(frame["boot_pct_low"], frame["boot_pct_high"])],
            "DM p (daily, h = 7)": [answer.p_value(v) for v in frame["dm_p"]]})
        why = ("<p>Why they differ: the seed interval and p treat each forecaster seed as one observation, so the "
               "randomness of training is in them; the bootstrap resamples seeds and entities, and the "
               "Diebold–Mariano test compares the daily errors of fitted networks (conditional on them), so with "
               "hundreds of days it finds tiny, seed-specific differences. The main tables use the seed-aware "
               "measure.</p>")
        parts.append(details("Appendix: other uncertainty measures of the change", why + table(rows)))
    selection = Path(artifacts["run_path"]) / STAGES[4] / "selection.csv"
    if selection.is_file():
        frame = pd.read_csv(selection, keep_default_na=False)
        if "model" in frame:
            frame["model"] = [answer.model_name(m) for m in frame["model"]]
        parts.append(details("Appendix: validation choices (mean validation WRMSSE, active windows)", table(frame)))
    return "".join(parts)


def reproducibility_section(facts: dict) -> str:
    """The reproducibility record as rows (nested values become one row each), collapsed."""
    rows = [(name.replace(".", ": ", 1), value) for name, value in flatten(facts)]
    return details("Appendix: reproducibility record (commit, versions, parameters, wall times)", pairs(rows))
