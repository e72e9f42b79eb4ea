"""The same data set scores identically from a local folder and from a real S3 server
(SeaweedFS), read through pyarrow's S3 filesystem."""

import uuid
from pathlib import Path

import pytest

from backtests.errors import BacktestInputError
from backtests.report import RunOptions, run
from backtests.scoring import ScoringParams
from backtests.store import DataRoot, S3Options
from backtests.synth import SynthSpec, generate
from tests.backtests.helpers import run_score
from tests.support.s3 import SeaweedS3

SPEC = SynthSpec(symbols=["AAA", "BBB"], days=5, snapshots_per_day=100, seed=3)


def _opts(s3: SeaweedS3) -> S3Options:
    return S3Options(s3.endpoint, s3.access_key, s3.secret_key, s3.region)


def test_s3_and_local_give_the_same_report(s3_server: SeaweedS3, tmp_path: Path) -> None:
    bucket = f"bt-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/research"
    generate(SPEC, DataRoot(url, _opts(s3_server)))
    generate(SPEC, DataRoot(str(tmp_path / "local")))
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("research/features/symbol=AAA/date=") for k in keys), keys[:5]

    remote, _ = run(RunOptions(url, tmp_path / "reports", plots=False), ScoringParams(), _opts(s3_server))
    local = run_score(tmp_path / "local")
    assert remote.overall == pytest.approx(local.overall), "s3:// and local scoring disagree"
    assert remote.overall["n"] > 0 and remote.slippage, "the trades data set was not read from s3"
    assert (tmp_path / "reports" / "summary.md").exists()


def test_wrong_s3_credentials_fail_naming_the_bucket(s3_server: SeaweedS3, tmp_path: Path) -> None:
    bucket = f"bt-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    bad = S3Options(s3_server.endpoint, s3_server.access_key, "wrong-secret", s3_server.region)
    with pytest.raises(BacktestInputError, match=rf"s3://{bucket}/x: cannot list .*AWS_SECRET_ACCESS_KEY"):
        run(RunOptions(f"s3://{bucket}/x", tmp_path / "r", plots=False), ScoringParams(), bad)
