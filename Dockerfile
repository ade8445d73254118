# syntax=docker/dockerfile:1
#
# One image for every floorpulse role: the entrypoint is the `floorpulse` console script and
# the command picks the subcommand (`worker`, `gateway`, `simulate`, `topics`).
#   docker build -t floorpulse .
#   docker run --rm -p 8000:8000 -e FLOORPULSE_KAFKA_BOOTSTRAP=... -e FLOORPULSE_REDIS_URL=... floorpulse gateway

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the project and its runtime dependencies in a virtual environment, and the
# pure per-event modules compiled with mypyc (stream/compiled.py; about 1.4x the worker's
# speed). The project is installed editable from /app, the layout of a checkout: each
# compiled module sits beside its source, where the import-time freshness check looks. The
# compiler and mypy stay in this stage; the runtime image gets the venv and /app only.
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/floorpulse \
    PATH=/opt/floorpulse/bin:$PATH
RUN python -m venv /opt/floorpulse
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --disable-pip-version-check -c constraints.txt -e . \
    && pip install --disable-pip-version-check -c constraints.txt mypy setuptools \
    && python scripts/compile.py \
    && python scripts/compile.py --check \
    && pip uninstall --disable-pip-version-check -y mypy \
    && rm -rf build

# ---- runtime ----
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/floorpulse/bin:$PATH \
    FLOORPULSE_HOST=0.0.0.0 \
    FLOORPULSE_DATA_DIR=/var/lib/floorpulse
COPY --from=build /opt/floorpulse /opt/floorpulse
COPY --from=build /app /app
RUN groupadd --system --gid 10001 floorpulse \
    && useradd --system --uid 10001 --gid floorpulse --create-home --home-dir /home/floorpulse \
        --shell /usr/sbin/nologin floorpulse \
    && install -d -o floorpulse -g floorpulse -m 0750 /var/lib/floorpulse
WORKDIR /home/floorpulse
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["floorpulse"]
CMD ["gateway"]
