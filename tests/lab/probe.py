"""The probe network lives in app/ops/lab/probe.py (`trader lab up --probe` uses it too)."""

from app.ops.lab.probe import ProbeNet

__all__ = ["ProbeNet"]
