# The service's production image. The lab cannot build it (no container registry is reachable
# here): `trader images build` makes the lab's `app` image from Debian trixie packages instead, and
# tests/images checks that image against this file's runtime contract (USER, EXPOSE, HEALTHCHECK,
# CMD, ENV, WORKDIR), so keep the two in step by editing this file only.
#
# The base is pinned by exact version tag; append its digest (`@sha256:...`) at release, when a
# registry is reachable. Python 3.13 on Debian 13 (trixie) is what the lab image and droplet run.
ARG PYTHON_IMAGE=python:3.13.7-slim-trixie

# --- builder: every wheel the service needs, built once, never shipped ---
FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY infra ./infra
COPY backtests ./backtests
COPY scripts ./scripts
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime: a venv from those wheels, run by an unprivileged user ---
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 trader \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin trader \
 && mkdir /app && chown trader:trader /app
# BuildKit's bind mount keeps the wheels out of every layer; pip and numpy's and pandas' test
# suites stay out too (nothing installs at run time; a quarter of the layer). Bytecode is checked
# by hash, not by the source's mtime, which layer tars may round: a stale .pyc is compiled again
# on every start (the user cannot write it back; docs/images.md).
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --no-compile --find-links=/wheels solo-trader-stack \
 && /opt/venv/bin/pip uninstall --yes --quiet pip \
 && find /opt/venv/lib/python3*/site-packages/numpy /opt/venv/lib/python3*/site-packages/pandas \
      -depth -type d -name tests -exec rm -r {} + \
 && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# No curl in the image: the standard library asks /health; a 503 (database down) or no answer
# raises, so the container turns unhealthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/diag/health', timeout=4)"]
CMD ["trader", "serve", "--host", "0.0.0.0", "--port", "8000"]
