"""Ground truth: synthetic data with a known edge (or none) must come back out of the report."""

from pathlib import Path

import pytest

from backtests.store import DataRoot
from backtests.synth import SynthSpec, generate
from tests.backtests.helpers import run_score

SPEC = {"symbols": ["AAA", "BBB"], "days": 25, "snapshots_per_day": 300, "seed": 11}


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object]:
    data = tmp_path_factory.mktemp("edge")
    truth = generate(SynthSpec(**SPEC, slope=1.0), DataRoot(str(data)))
    return truth, run_score(data)


@pytest.fixture(scope="module")
def no_edge(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object]:
    data = tmp_path_factory.mktemp("noedge")
    truth = generate(SynthSpec(**SPEC, slope=0.0), DataRoot(str(data)))
    return truth, run_score(data)


def test_every_generated_snapshot_is_scored(edge: tuple) -> None:
    truth, scores = edge
    assert scores.overall["n"] == truth["rows"]["snapshots"], scores.groups["reason"]


def test_overall_hit_rate_recovered_within_ci(edge: tuple) -> None:
    truth, scores = edge
    o = scores.overall
    assert o["hit_lo"] <= truth["expected_hit_rate"] <= o["hit_hi"], (
        f"true hit rate {truth['expected_hit_rate']:.4f} outside the reported CI "
        f"[{o['hit_lo']:.4f}, {o['hit_hi']:.4f}]"
    )
    assert o["hit_lo"] > 0.5, "a calibrated edge of p in [0.5, 0.8] must show a hit rate CI above 50%"


def test_calibrated_signal_is_calibrated_in_every_probability_bin(edge: tuple) -> None:
    _, scores = edge
    for b in scores.groups["prob_bin"]:
        # calibrated: the true hit probability of a bin is its mean predicted probability
        assert b["hit_lo"] <= b["prob_mean"] <= b["hit_hi"], f"bin {b['prob_bin']}: {b}"
        assert b["ev_lo"] <= b["ev_pred"] <= b["ev_hi"], (
            f"bin {b['prob_bin']}: EV predicted outside realized CI"
        )
    assert scores.brier["reliability"] < 0.002, scores.brier
    assert scores.brier["resolution"] > 0.003, scores.brier


def test_brier_decomposition_adds_up(edge: tuple) -> None:
    _, scores = edge
    b = scores.brier
    total = b["reliability"] - b["resolution"] + b["uncertainty"] + b["within_bin"]
    assert total == pytest.approx(b["brier"], abs=1e-12)
    assert 0 < b["brier"] < 0.25, "an edge must beat the coin-flip Brier score of 0.25"


def test_no_edge_shows_none(no_edge: tuple) -> None:
    _, scores = no_edge
    o = scores.overall
    assert o["hit_lo"] <= 0.5 <= o["hit_hi"], (
        f"no-edge data reported hit rate CI [{o['hit_lo']}, {o['hit_hi']}]"
    )
    assert o["ev_lo"] <= 0 <= o["ev_hi"], f"no-edge data reported realized EV CI [{o['ev_lo']}, {o['ev_hi']}]"
    for b in scores.groups["prob_bin"]:
        assert b["hit_lo"] <= 0.5 <= b["hit_hi"], f"bin {b['prob_bin']} shows an edge that is not there: {b}"
    assert scores.brier["resolution"] < 0.001, scores.brier
    assert scores.brier["reliability"] > 0.01, "overconfident predictions must show as miscalibration"


def test_pnl_before_slippage_follows_the_edge(edge: tuple, no_edge: tuple) -> None:
    assert edge[1].overall["pnl_gross"] > 0
    assert edge[1].overall["pnl_net"] < edge[1].overall["pnl_gross"], "slippage must cost something"
    daily = sum(d["pnl_gross"] for d in edge[1].groups["day"])
    assert daily == pytest.approx(edge[1].overall["pnl_gross"]), "daily P&L must add up to the total"


def test_observed_slippage_recovers_the_generated_fills(edge: tuple) -> None:
    truth, scores = edge
    base = truth["spec"]["slippage_bps"]
    spread = [r for r in scores.slippage if r["kind"] == "spread"]
    assert sum(r["fills"] for r in spread) == truth["rows"]["trades"], "every fill must match its snapshot"
    for r in spread:
        lo, _, hi = r["bucket"].partition(": ")[2].replace("<", "0-").replace(">=", "").partition("-")
        low = base + float(lo or 0) / 2
        assert r["observed_bps"] >= low - 1e-9, f"bucket {r['bucket']}: {r['observed_bps']} < {low}"
        if hi:
            assert r["observed_bps"] <= base + float(hi) / 2 + 1e-9, f"bucket {r['bucket']}: {r}"


def test_report_files_written(tmp_path: Path, edge: tuple) -> None:
    from backtests import render

    _, scores = edge
    text = render.markdown(scores, ["reliability.png"])
    assert "shows an edge" in text and "| 5 |" in text, text[:500]
    names = render.plots(scores, tmp_path)
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG"
    assert sorted(names) == ["hit_rate.png", "pnl.png", "reliability.png"]


def test_fills_over_a_long_span_all_match(tmp_path: Path) -> None:
    # fills on more dates than scoring lists literally (it filters on their span instead)
    truth = generate(
        SynthSpec(symbols=["AAA"], days=40, snapshots_per_day=20, trades_per_day=1, seed=5),
        DataRoot(str(tmp_path)),
    )
    spread = [r for r in run_score(tmp_path).slippage if r["kind"] == "spread"]
    assert truth["rows"]["trades"] == 40
    assert sum(r["fills"] for r in spread) == 40, "every fill must match its snapshot"
