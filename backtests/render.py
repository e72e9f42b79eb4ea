"""Render: result tables to CSV text, a Markdown summary a person reads in two minutes, and PNG
plots (reliability diagram, hit rate by bucket, cumulative P&L with and without slippage)."""

from __future__ import annotations

import csv
import io
import math
from itertools import accumulate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from backtests.scoring import Scores


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(out, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _csv_value(v) for k, v in r.items()} for r in rows)
    return out.getvalue()


def _csv_value(v: object) -> object:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def _pct(v: float | None) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def _bps(v: float | None) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{1e4 * v:+.1f} bps"


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "| " + " | ".join(title for title, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(r) for _, fmt in columns) + " |" for r in rows]  # type: ignore[operator]
    return "\n".join([head, rule, *body])


def _bucket_columns(key: str, title: str) -> list:
    return [
        (title, lambda r: str(r[key])),
        ("n", lambda r: f"{r['n']:,}"),
        ("hit rate (95% CI)", lambda r: f"{_pct(r['hit_rate'])} ({_pct(r['hit_lo'])}-{_pct(r['hit_hi'])})"),
        ("predicted p", lambda r: _pct(r["prob_mean"])),
        ("EV predicted", lambda r: _bps(r["ev_pred"])),
        (
            "EV realized (95% CI)",
            lambda r: f"{_bps(r['ev_real'])} ({_bps(r['ev_lo'])} to {_bps(r['ev_hi'])})",
        ),
    ]


def verdict(scores: Scores) -> str:
    o = scores.overall
    if not o["n"]:
        return "Nothing could be scored."
    edge = (
        "shows an edge"
        if o["hit_lo"] > 0.5
        else "shows NO reliable edge"
        if o["hit_hi"] > 0.5
        else "is worse than a coin"
    )
    cal = scores.brier.get("reliability", math.nan)
    net = f"makes {o['pnl_net']:,.0f}" if o["pnl_net"] > 0 else f"loses {-o['pnl_net']:,.0f}"
    return (
        f"Over {o['n']:,} scored snapshots the signal {edge}: hit rate {_pct(o['hit_rate'])} "
        f"(95% CI {_pct(o['hit_lo'])}-{_pct(o['hit_hi'])}) against {_pct(o['prob_mean'])} predicted. "
        f"Calibration error (reliability) {cal:.4f}; acting on every positive-EV snapshot "
        f"{net} after slippage ({o['pnl_gross']:,.0f} before)."
    )


def markdown(scores: Scores, plots: list[str]) -> str:
    o, b, p = scores.overall, scores.brier, scores.params
    reasons = scores.groups.get("reason", [])
    lines = [
        "# Backtest summary",
        "",
        verdict(scores),
        "",
        f"- snapshots read: {scores.rows_read:,}; duplicates dropped: {scores.duplicates:,}; "
        f"scored: {o['n']:,}; not scored: {o['rows'] - o['n']:,}",
        f"- range: {p.start or 'all'} to {p.end or 'all'} (exchange dates, {p.exchange_tz}); "
        f"horizons: {', '.join(h.label for h in scores.horizons)}",
        f"- Brier {b.get('brier', math.nan):.4f} = reliability {b.get('reliability', math.nan):.4f} "
        f"- resolution {b.get('resolution', math.nan):.4f} "
        f"+ uncertainty {b.get('uncertainty', math.nan):.4f} "
        f"(+ within-bin {b.get('within_bin', math.nan):.4f})",
        f"- P&L at {p.notional:,.0f} per positive-EV snapshot ({o['taken']:,} taken): "
        f"{o['pnl_gross']:,.2f} before, {o['pnl_net']:,.2f} after slippage",
        "",
        "## Calibration (by predicted probability)",
        "",
        _table(scores.groups.get("prob_bin", []), _bucket_columns("prob_bin", "p bin (x10%)")),
        "",
        "## By horizon",
        "",
        _table(scores.groups.get("horizon", []), _bucket_columns("horizon", "horizon")),
        "",
        "## Not scored",
        "",
        _table(reasons, [("reason", lambda r: r["reason"]), ("rows", lambda r: f"{r['rows']:,}")]),
    ]
    if scores.slippage:
        lines += [
            "",
            "## Slippage by spread bucket (per side)",
            "",
            _table(
                [r for r in scores.slippage if r["kind"] == "spread"],
                [
                    ("spread", lambda r: str(r["bucket"])),
                    ("fills", lambda r: f"{r['fills']:,}"),
                    ("observed bps", lambda r: f"{r['observed_bps']:.1f}"),
                    ("modelled bps", lambda r: f"{r['modelled_bps']:.1f}"),
                    ("used", lambda r: r["used"]),
                ],
            ),
        ]
    lines += [
        "",
        "Tables: the CSV files next to this one (by symbol, time of day, spread, volatility, day).",
        "",
    ]
    lines += [f"![{name}]({name})" for name in plots]
    return "\n".join(lines) + "\n"


def plots(scores: Scores, out: Path) -> list[str]:
    """Write the PNGs into `out`; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    written = []
    bins = scores.groups.get("prob_bin", [])
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.errorbar(
        [b["prob_mean"] for b in bins],
        [b["hit_rate"] for b in bins],
        yerr=[[b["hit_rate"] - b["hit_lo"] for b in bins], [b["hit_hi"] - b["hit_rate"] for b in bins]],
        fmt="o-",
        label="realized (95% CI)",
    )
    ax.set(
        xlabel="predicted probability",
        ylabel="realized hit rate",
        title="Reliability",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend()
    written.append(_save(fig, out, "reliability.png"))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("horizon", "hour"), strict=True):
        rows = scores.groups.get(key, [])
        labels = [str(r[key]) for r in rows]
        ax.bar(
            labels,
            [r["hit_rate"] for r in rows],
            yerr=[[r["hit_rate"] - r["hit_lo"] for r in rows], [r["hit_hi"] - r["hit_rate"] for r in rows]],
        )
        ax.axhline(0.5, color="grey", linestyle="--")
        ax.set(title=f"hit rate by {'hour (exchange time)' if key == 'hour' else key}", ylim=(0, 1))
    written.append(_save(fig, out, "hit_rate.png"))

    days = scores.groups.get("day", [])
    fig, ax = plt.subplots(figsize=(8, 4))
    x = [d["day"] for d in days]
    ax.plot(x, list(accumulate(d["pnl_gross"] for d in days)), label="before slippage")
    ax.plot(x, list(accumulate(d["pnl_net"] for d in days)), label="after slippage")
    ax.set(title="cumulative P&L", ylabel="P&L")
    ax.legend()
    fig.autofmt_xdate()
    written.append(_save(fig, out, "pnl.png"))
    return written


def _save(fig: object, out: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(out / name, dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return name
