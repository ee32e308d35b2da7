"""The evaluation report: a JSON file and one self-contained HTML page (plots inline as PNG).

Also the plain-text and Markdown tables of the headline metrics (demo summary, docs).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from watchtower.evaluate.evaluation import METHODS, Evaluation
from watchtower.evaluate.metrics import TIER_ORDER
from watchtower.evaluate.reliability import ReliabilityResult

_TIER_COLOURS = {"red": "#d7191c", "orange": "#fd8d3c", "yellow": "#fecc5c", "blue": "#74a9cf"}
_METHOD_COLOURS = {"watchtower": "#08519c", "rules_only": "#e6550d", "iforest": "#31a354"}


@dataclass(frozen=True)
class Row:
    """One headline metric across methods. ``better``: "high" or "low" (None: no ordering)."""

    en: str
    zh: str
    values: dict[str, float | None]
    fmt: str = "{:.3f}"
    better: str | None = "high"

    def text(self, key: str) -> str:
        v = self.values.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return self.fmt.format(v)

    def best(self) -> set[str]:
        vals = {
            k: v
            for k, v in self.values.items()
            if v is not None and not (isinstance(v, float) and math.isnan(v))
        }
        if not vals or self.better is None or len(set(vals.values())) == 1:
            return set()
        target = max(vals.values()) if self.better == "high" else min(vals.values())
        return {k for k, v in vals.items() if v == target}


def headline_rows(ev: Evaluation, *, compact: bool = False) -> list[Row]:
    """The metrics table, one row per metric, methods as columns.

    ``compact``: fewer rows (the demo's terminal summary).
    """
    cfg = ev.config
    m = ev.methods
    rows: list[Row] = []
    horizons = [h for h in cfg.horizons if not compact or h == 180] or list(cfg.horizons)
    for h in horizons:
        rows.append(
            Row(
                f"AUC-ROC, incident ≤{h}d",
                f"AUC-ROC({h}天内风险事件)",
                {k: r.ranking[h].auc_roc for k, r in m.items()},
            )
        )
        base = next(iter(m.values())).ranking[h].base_rate
        rows.append(
            Row(
                f"AUC-PR, incident ≤{h}d (base rate {base:.3f})"
                if not math.isnan(base)
                else f"AUC-PR, incident ≤{h}d",
                f"AUC-PR({h}天内)",
                {k: r.ranking[h].auc_pr for k, r in m.items()},
            )
        )
        for k in cfg.ks if not compact else cfg.ks[:1]:
            rows.append(
                Row(
                    f"Precision@{k}, ≤{h}d",
                    f"前{k}名精确率({h}天内)",
                    {key: r.ranking[h].precision_at[k] for key, r in m.items()},
                )
            )
    for tier in cfg.warn_tiers:
        rows.append(
            Row(
                f"Recall, warned ≥{cfg.min_lead}d ahead at ≥{tier}",
                f"提前≥{cfg.min_lead}天预警召回率(≥{_TIER_ZH.get(tier, tier)})",
                {k: r.warning.recall[tier] for k, r in m.items()},
            )
        )
    for tier in cfg.warn_tiers:
        rows.append(
            Row(
                f"Median lead time at ≥{tier} (days)",
                f"中位提前天数(≥{_TIER_ZH.get(tier, tier)})",
                {k: r.warning.median_lead[tier] for k, r in m.items()},
                fmt="{:.0f}",
            )
        )
    pct = f"{cfg.top_share:.0%}"
    if all(r.top_recall is not None for r in m.values()) and m:
        rows.append(
            Row(
                f"Recall, in the top {pct} within {cfg.lookback}d before the incident",
                f"事件前{cfg.lookback}天内进入前{pct}的召回率",
                {k: r.top_recall.recall if r.top_recall else None for k, r in m.items()},
            )
        )
    fh = cfg.false_alarm_horizon
    at = cfg.alarm_tier
    if all(r.alarms for r in m.values()) and m:
        rows.append(
            Row(
                f"False-alarm share at ≥{at} (no incident ≤{fh}d)",
                f"误报率(≥{_TIER_ZH.get(at, at)}, {fh}天内无事件)",
                {k: r.alarms["false_alarm_rate"] for k, r in m.items()},
                better="low",
            )
        )
    for tier in TIER_ORDER if not compact else ("red", "orange", "yellow"):
        rows.append(
            Row(
                f"False-alarm rate, {tier} (no incident ≤{fh}d)",
                f"误报率({_TIER_ZH[tier]}, {fh}天内无事件)",
                {k: r.false_alarms[fh][tier]["false_alarm_rate"] for k, r in m.items()},
                better="low",
            )
        )
    if all(r.benign is not None for r in m.values()) and m:
        rows.append(
            Row(
                f"Benign outliers landing in the top {pct}",
                f"良性离群机构进入前{pct}的比例",
                {k: (r.benign or {}).get("benign_in_top") for k, r in m.items()},
                better="low",
            )
        )
        if not compact:
            rows.append(
                Row(
                    f"Share of the top {pct} that are benign outliers",
                    f"前{pct}中良性离群机构占比",
                    {k: (r.benign or {}).get("benign_share_of_top") for k, r in m.items()},
                    better="low",
                )
            )
    return rows


_TIER_ZH = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}


def family_rows(ev: Evaluation) -> list[Row]:
    """Per incident family: recall warned >= min_lead days ahead at >= alarm tier, and recall
    in the top share within the lookback (methods as columns; empty without a truth file)."""
    cfg = ev.config
    m = ev.methods
    if not m or any(r.families is None for r in m.values()):
        return []
    names = sorted({f for r in m.values() for f in (r.families or {})})
    zh = _TIER_ZH.get(cfg.alarm_tier, cfg.alarm_tier)
    rows: list[Row] = []
    for fam in names:
        first = next(iter(m.values())).families or {}
        n = first.get(fam, {}).get("eligible_warning", 0)
        rows.append(
            Row(
                f"{fam} (n={n}): warned ≥{cfg.min_lead}d ahead at ≥{cfg.alarm_tier}",
                f"{fam}: 提前≥{cfg.min_lead}天预警(≥{zh})",
                {
                    k: (r.families or {}).get(fam, {}).get("recall_at_min_lead")
                    for k, r in m.items()
                },
            )
        )
        rows.append(
            Row(
                f"{fam}: in the top {cfg.top_share:.0%} within {cfg.lookback}d before",
                f"{fam}: 事件前{cfg.lookback}天内进入前{cfg.top_share:.0%}",
                {k: (r.families or {}).get(fam, {}).get("top_share_recall") for k, r in m.items()},
            )
        )
    return rows


def benign_kind_rows(ev: Evaluation) -> list[Row]:
    """Per benign kind: its share of the top share, and its members' rate of landing there."""
    cfg = ev.config
    m = ev.methods
    if not m or any(r.benign_kinds is None for r in m.values()):
        return []
    pct = f"{cfg.top_share:.0%}"
    rows: list[Row] = []
    for kind in sorted({k for r in m.values() for k in (r.benign_kinds or {})}):
        first = next(iter(m.values())).benign_kinds or {}
        n = first.get(kind, {}).get("managers", 0)
        for key, en, zh in (
            ("share_of_top", f"share of the top {pct}", f"占前{pct}的比例"),
            ("in_top", f"own rate in the top {pct}", f"进入前{pct}的比例"),
        ):
            rows.append(
                Row(
                    f"{kind} (n={n}): {en}",
                    f"{kind}: {zh}",
                    {k: (r.benign_kinds or {}).get(kind, {}).get(key) for k, r in m.items()},
                    better="low",
                )
            )
    return rows


def text_table(ev: Evaluation, *, compact: bool = True) -> list[str]:
    """Fixed-width lines of the headline table (English labels, for terminals)."""
    rows = headline_rows(ev, compact=compact)
    keys = list(ev.methods)
    names = {"watchtower": "Watchtower", "rules_only": "Rules only", "iforest": "IForest"}
    width = max(len(r.en) for r in rows) + 2
    lines = [" " * width + "".join(f"{names.get(k, k):>12}" for k in keys)]
    for r in rows:
        best = r.best()
        cells = "".join(f"{r.text(k) + ('*' if k in best else ''):>12}" for k in keys)
        lines.append(f"{r.en:<{width}}{cells}")
    return lines


def markdown_table(ev: Evaluation, *, compact: bool = False, rows: list[Row] | None = None) -> str:
    """The headline table in Markdown (best value per row in bold); ``rows``: another table's
    rows (:func:`family_rows`, :func:`benign_kind_rows`) in the same layout."""
    keys = list(ev.methods)
    head = "| metric | 指标 | " + " | ".join(METHODS[k][0] for k in keys) + " |"
    sep = "|---|---|" + "---:|" * len(keys)
    lines = [head, sep]
    for r in headline_rows(ev, compact=compact) if rows is None else rows:
        best = r.best()
        cells = [f"**{r.text(k)}**" if k in best else r.text(k) for k in keys]
        lines.append(f"| {r.en} | {r.zh} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plots


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(ev: Evaluation) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    cfg = ev.config
    names = {k: METHODS[k][0] for k in ev.methods}

    # Lead times at each warning tier, methods side by side.
    fig, axes = plt.subplots(1, len(cfg.warn_tiers), figsize=(5.2 * len(cfg.warn_tiers), 3.4))
    axes = list(axes) if len(cfg.warn_tiers) > 1 else [axes]
    bins = list(range(0, cfg.lookback + 31, 30))
    for ax, tier in zip(axes, cfg.warn_tiers, strict=True):
        data, labels, colours = [], [], []
        for k, r in ev.methods.items():
            inc = r.warning.incidents
            leads = inc.loc[inc["eligible"].astype(bool), f"lead_{tier}"].dropna()
            data.append(leads.to_numpy())
            labels.append(f"{names[k]} (n={len(leads)})")
            colours.append(_METHOD_COLOURS.get(k, "grey"))
        ax.hist(data, bins=bins, label=labels, color=colours, alpha=0.85)
        ax.axvline(cfg.min_lead, color="black", linestyle="--", linewidth=1)
        ax.set_title(f"Lead time of warnings at ≥{tier}")
        ax.set_xlabel("days from first warning to incident")
        ax.set_ylabel("incidents")
        ax.legend(fontsize=7)
    out["lead"] = _png(fig)

    # Precision-recall curves pooled over fully observed days, one panel per horizon.
    fig, axes = plt.subplots(1, len(cfg.horizons), figsize=(4.2 * len(cfg.horizons), 3.6))
    axes = list(axes) if len(cfg.horizons) > 1 else [axes]
    for ax, h in zip(axes, cfg.horizons, strict=True):
        for k, curves in ev.pr_curves.items():
            recall, precision = curves.get(h, ([], []))
            if len(recall):
                ap = ev.methods[k].ranking[h].auc_pr
                ax.plot(
                    recall,
                    precision,
                    label=f"{names[k]} (AP {ap:.2f})",
                    color=_METHOD_COLOURS.get(k, "grey"),
                )
        base = next(iter(ev.methods.values())).ranking[h].base_rate
        if not math.isnan(base):
            ax.axhline(base, color="grey", linestyle=":", linewidth=1, label="random")
        ax.set_title(f"Precision-recall, incident ≤{h} days")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    out["pr"] = _png(fig)

    # The system's tier counts over time.
    counts = ev.tier_counts
    fig, ax = plt.subplots(figsize=(10, 3.2))
    if len(counts):
        x = pd.to_datetime(counts.index)
        ax.stackplot(
            x,
            *[counts[t].to_numpy() for t in reversed(TIER_ORDER)],
            labels=list(reversed(TIER_ORDER)),
            colors=[_TIER_COLOURS[t] for t in reversed(TIER_ORDER)],
            alpha=0.9,
        )
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Managers per tier on each backtest day (Watchtower)")
    ax.set_ylabel("managers")
    out["tiers"] = _png(fig)

    # AUC-ROC per day for the middle horizon.
    h = cfg.horizons[len(cfg.horizons) // 2]
    fig, ax = plt.subplots(figsize=(10, 3.0))
    for k, r in ev.methods.items():
        per = r.ranking[h].per_date
        if len(per):
            ax.plot(
                pd.to_datetime(per["as_of"]),
                per["auc_roc"],
                marker="o",
                markersize=3,
                label=names[k],
                color=_METHOD_COLOURS.get(k, "grey"),
            )
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_title(f"AUC-ROC per backtest day, incident ≤{h} days (fully observed days)")
    ax.legend(fontsize=7)
    out["auc"] = _png(fig)
    return out


def _reliability_plot(rel: ReliabilityResult) -> str:
    """Mean predicted probability against the observed rate per bin (marker area: pairs)."""
    import matplotlib.pyplot as plt

    table = rel.table[rel.table["count"] > 0]
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfectly calibrated")
    sizes = 20 + 180 * table["count"] / max(int(table["count"].max()), 1)
    ax.plot(table["mean_predicted"], table["observed_rate"], color="#1f5fa8", linewidth=1)
    ax.scatter(table["mean_predicted"], table["observed_rate"], s=sizes, color="#1f5fa8")
    ax.set_xlim(0, 1.02)  # a rate of 1 is drawn whole, not cut by the frame
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("predicted P(incident within 12 months)")
    ax.set_ylabel("observed incident rate")
    ax.set_title(f"Reliability (Brier {rel.brier:.3f}, {rel.with_probability} pairs)")
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def calibration_html(rel: ReliabilityResult | None, plot: str | None) -> list[str]:
    """The report's calibration section: Brier score, reliability table and plot."""
    esc = html.escape
    parts = ["<h2>Calibration <span class='zh'>概率校准(12个月内出险概率)</span></h2>"]
    if rel is None or not rel.with_probability:
        parts.append(
            "<p class='meta'>No stored probability on a fully observed day (365 days): too "
            "few past labels to calibrate. 完整观察期内无已存储的概率。</p>"
        )
        return parts
    parts.append(
        f"<p class='meta'>Brier score {rel.brier:.4f} (always the base rate "
        f"{rel.base_rate:.3f}: {rel.brier_reference:.4f}) on {rel.with_probability} of "
        f"{rel.pairs} (day, manager) pairs of {rel.days} fully observed days; pairs without a "
        "probability had too few past labels. Brier分数越低越好。</p>"
    )
    if plot:
        parts.append(f"<img alt='reliability' src='data:image/png;base64,{plot}'>")
    parts.append(
        "<table><tr><th>predicted <span class='zh'>预测概率区间</span></th><th>pairs</th>"
        "<th>mean predicted <span class='zh'>平均预测</span></th>"
        "<th>observed rate <span class='zh'>实际出险率</span></th></tr>"
    )
    for row in rel.table.to_dict("records"):
        if not row["count"]:
            continue
        span = f"{row['lower']:.1f}–{row['upper']:.1f}"
        parts.append(
            f"<tr><td>{esc(span)}</td>"
            f"<td class='num'>{int(row['count'])}</td>"
            f"<td class='num'>{row['mean_predicted']:.3f}</td>"
            f"<td class='num'>{row['observed_rate']:.3f}</td></tr>"
        )
    parts.append("</table>")
    return parts


# ---------------------------------------------------------------------------- files

_CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;
margin:2em auto;max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.3em .7em;border-bottom:1px solid #eee}
th{background:#f5f5f5;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:bold;background:#eef5ff}.zh{color:#666;font-size:.85em}
.meta{color:#555}img{max-width:100%}dt{font-weight:bold;margin-top:.5em}
"""

_DEFINITIONS = [
    (
        "Label / 标签",
        "A manager is positive on day D for horizon H when its first confirmed incident falls in "
        "(D, D+H]. Managers whose incident is on or before D are dropped from D on. "
        "对日期D与期限H,若机构首次风险事件发生在(D, D+H]内则为正例;已发生事件的机构此后不再计入。",
    ),
    (
        "Fully observed days / 完整观察期",
        "Ranking metrics and false-alarm rates use only days with D+H ≤ the observation end, so "
        "incidents not yet seen are not counted as negatives. "
        "排序指标与误报率仅使用D+H不晚于观察截止日的日期。",
    ),
    (
        "AUC, precision@k / AUC与前k名精确率",
        "Computed per day, then averaged over days (days with a single class are skipped for "
        "AUC). Ties at the k-th score are broken at random in expectation. "
        "按日计算后取平均;第k名处并列按期望随机处理。",
    ),
    (
        "Recall and lead time / 召回率与提前期",
        "An incident is warned ≥90 days ahead at tier ≥T when the manager was at T or above on "
        "a backtest day between 365 and 90 days before it. Lead time: days from the first such "
        "warning within 365 days before the incident. "
        "事件前365天至90天之间任一回测日达到该级别即视为提前预警;提前期为首次预警至事件的天数。",
    ),
    (
        "False-alarm rate / 误报率",
        "Among (day, manager) pairs at exactly that tier on fully observed days, the share with "
        "no incident within the horizon (1 − precision of the tier). "
        "处于该级别的(日期,机构)对中,期限内未发生事件的比例。",
    ),
    (
        "Baselines / 基准",
        "Rules only: the stored rule score. Single IForest: one pyod IForest per day on the raw "
        "stored features (no directions, no peer groups). Baselines get tiers at the same alert "
        "budget as Watchtower: on each day as many managers per tier as Watchtower flagged. "
        "基准方法按与Watchtower相同的每日各级预警数量分级,以同等工作量比较。",
    ),
    (
        "Alarms at orange and above / 橙色及以上预警",
        "False-alarm share at ≥orange: among (day, manager) pairs at orange or red on fully "
        "observed days, the share with no incident within 365 days. "
        "橙色及以上的(日期,机构)对中,365天内未发生事件的比例。",
    ),
    (
        "Top 5% recall / 前5%召回率",
        "An incident is caught in the top 5% when its manager was among the day's top 5% of "
        "scores on some backtest day within 365 days before it (ties at random in "
        "expectation); per incident family as well. "
        "事件前365天内任一回测日进入当日评分前5%即计为命中;并按风险类型分别统计。",
    ),
    (
        "Benign outliers / 良性离群",
        "Planted legitimately unusual managers (synthetic ground truth): the share of them that "
        "land in the day's top 5% of scores, and the share of the top 5% they take; per kind "
        "too (its share of the top, its members' rate in it). Lower is better. "
        "模拟数据中植入的正常但异常的机构进入每日前5%的比例,越低越好。",
    ),
]


def render_html(ev: Evaluation) -> str:
    """The self-contained HTML report (no external files or scripts)."""
    plots = _plots(ev)
    keys = list(ev.methods)
    esc = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>Watchtower evaluation {ev.start} – {ev.end}</title><style>{_CSS}</style>",
        "</head><body>",
        "<h1>Watchtower backtest evaluation <span class='zh'>回测评估报告</span></h1>",
        f"<p class='meta'>{len(ev.dates)} backtest days {ev.start} – {ev.end} · "
        f"{ev.managers} managers · {ev.incidents} managers with incidents "
        f"(labels: {esc(ev.labels_source)}) · incidents observed until {ev.observed_until}"
        + (f" · {ev.benign_managers} planted benign outliers" if ev.benign_managers else "")
        + "</p>",
    ]
    for note in ev.notes:
        parts.append(f"<p class='meta'>⚠ {esc(note)}</p>")
    if ev.world_family:
        fam = ev.world_family.get("family", {})
        role = fam.get("role", "?")
        parts.append(
            f"<p class='meta'>World family {esc(str(fam.get('name', '?')))} ({esc(str(role))}"
            + (": report only, never tuned on" if role == "locked" else "")
            + f"), seed {esc(str(ev.world_family.get('seed', '?')))}</p>"
        )
    tables = [
        ("Headline metrics <span class='zh'>核心指标</span>", headline_rows(ev)),
        ("Per incident family <span class='zh'>按风险类型</span>", family_rows(ev)),
        ("Per benign-outlier kind <span class='zh'>按良性离群类型</span>", benign_kind_rows(ev)),
    ]
    for title, rows in tables:
        if rows:
            parts += _html_table(title, rows, keys)
    figures = [
        ("lead", "Lead time <span class='zh'>预警提前期</span>"),
        ("pr", "Precision and recall <span class='zh'>精确率-召回率曲线</span>"),
        ("tiers", "Tiers over time <span class='zh'>各级预警数量变化</span>"),
        ("auc", "Ranking quality over time <span class='zh'>排序质量随时间变化</span>"),
    ]
    for key, title in figures:
        parts.append(f"<h2>{title}</h2><img alt='{key}' src='data:image/png;base64,{plots[key]}'>")
    rel = ev.calibration
    plot = _reliability_plot(rel) if rel is not None and rel.with_probability else None
    parts += calibration_html(rel, plot)
    parts.append("<h2>Definitions <span class='zh'>口径说明</span></h2><dl>")
    for term, text in _DEFINITIONS:
        parts.append(f"<dt>{esc(term)}</dt><dd>{esc(text)}</dd>")
    parts.append("</dl></body></html>")
    return "\n".join(parts)


def _html_table(title: str, rows: list[Row], keys: list[str]) -> list[str]:
    esc = html.escape
    parts = [f"<h2>{title}</h2><table><tr>", "<th>metric <span class='zh'>指标</span></th>"]
    parts += [
        f"<th>{esc(METHODS[k][0])}<br><span class='zh'>{METHODS[k][1]}</span></th>" for k in keys
    ]
    parts.append("</tr>")
    for r in rows:
        best = r.best()
        parts.append(f"<tr><td>{esc(r.en)}<br><span class='zh'>{esc(r.zh)}</span></td>")
        for k in keys:
            cls = "num best" if k in best else "num"
            parts.append(f"<td class='{cls}'>{esc(r.text(k))}</td>")
        parts.append("</tr>")
    parts.append("</table><p class='meta'>Best value per row highlighted. 每行最优值加粗。</p>")
    return parts


def write_report(ev: Evaluation, out_dir: Path, *, stem: str | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.html`` under ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or f"evaluation_{ev.start}_{ev.end}"
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    json_path.write_text(
        json.dumps(ev.as_dict(), ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8"
    )
    html_path.write_text(render_html(ev), encoding="utf-8")
    return json_path, html_path
