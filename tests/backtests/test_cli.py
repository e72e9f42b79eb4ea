"""`trader data synth` + `trader backtest run` as a person runs them."""

from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli


def test_synth_then_run_writes_the_report(tmp_path: Path) -> None:
    runner = CliRunner()
    data, out = tmp_path / "data", tmp_path / "reports"
    made = runner.invoke(cli, ["data", "synth", "--data", str(data), "--days", "5", "--per-day", "50"])
    assert made.exit_code == 0, made.output
    ran = runner.invoke(
        cli, ["backtest", "run", "--data", str(data), "--out", str(out), "--memory-limit", "512MB"]
    )
    assert ran.exit_code == 0, ran.output
    assert "summary.md" in ran.output, ran.output
    expected = {
        "summary.md",
        "reliability.png",
        "hit_rate.png",
        "pnl.png",
        "prob_bin.csv",
        "slippage.csv",
        "brier.csv",
    }
    assert expected <= {p.name for p in out.iterdir()}, sorted(p.name for p in out.iterdir())
    header = (out / "prob_bin.csv").read_text().splitlines()[0]
    assert header.startswith("prob_bin,n,hits,hit_rate,hit_lo,hit_hi"), header


def test_run_on_missing_data_exits_non_zero_naming_the_fix(tmp_path: Path) -> None:
    ran = CliRunner().invoke(
        cli, ["backtest", "run", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")]
    )
    assert ran.exit_code == 1, ran.output
    assert "trader data export" in ran.output, ran.output


def test_bad_memory_limit_is_named(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    assert (
        runner.invoke(cli, ["data", "synth", "--data", str(data), "--days", "2", "--per-day", "5"]).exit_code
        == 0
    )
    ran = runner.invoke(cli, ["backtest", "run", "--data", str(data), "--memory-limit", "lots"])
    assert ran.exit_code == 1 and "memory_limit" in ran.output, ran.output
