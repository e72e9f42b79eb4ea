"""The Pulumi program for DigitalOcean (`Pulumi.yaml` at the repository root: `main: infra/`).

`__main__.py` composes the modules here; each holds one concern and the tests in `tests/infra/`
run the whole program under Pulumi's mocks.
"""
