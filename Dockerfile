# tsvis-live in a container: docs/docker.md says how to build, run and check it.
#
#   docker build -t tsvis-live .
#   docker run -d -p 6006:6006 -v /path/to/logs:/logs:ro -v tsvis-data:/data \
#       -e TSVIS_LIVE_TOKEN=secret tsvis-live
#
# Two stages: the builder compiles the optional C decoder into a wheel (the runtime image
# has no compiler); the runtime installs that wheel into a virtualenv and runs as a
# non-root user. Session databases live in the /data volume; logs are mounted at /logs.

ARG BASE=python:3.11-slim

FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY migrations ./migrations
COPY tsvis_live ./tsvis_live
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && python -c "import sys, zipfile, glob; names = zipfile.ZipFile(glob.glob('/wheels/*.whl')[0]).namelist(); \
sys.exit(0 if any('_native/_decode' in n for n in names) else 'the C decoder was not built')"

FROM ${BASE}
# extras installed into the image: the PostgreSQL store and the Redis hub (docs/deploy.md);
# build with --build-arg EXTRAS= for the SQLite-only server
ARG EXTRAS=postgresql,redis
# 1 adds the TS-VIS web frontend (`--ui tsvis`), which only ships inside the `tsvis` package
ARG TSVIS_UI=0
ENV PATH=/opt/tsvis-live/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_DATA_HOME=/data \
    TSVIS_LIVE_HEALTH_URL=http://127.0.0.1:6006/api/live/status
COPY --from=build /wheels /wheels
RUN python -m venv /opt/tsvis-live \
 && wheel="$(ls /wheels/tsvis_live-*.whl)" \
 && pip install --no-cache-dir "${wheel}${EXTRAS:+[$EXTRAS]}" \
 && if [ "$TSVIS_UI" = "1" ]; then pip install --no-cache-dir --no-deps tsvis==0.4.2 six; fi \
 && rm -rf /wheels \
 && printf '%s\n' \
    '#!/opt/tsvis-live/bin/python' \
    '"""The image HEALTHCHECK: exit 0 when tsvis-live answers (see the Dockerfile)."""' \
    'import os, sys, urllib.error, urllib.request' \
    'token = os.environ.get("TSVIS_LIVE_TOKEN", "")' \
    'path = os.environ.get("TSVIS_LIVE_TOKEN_FILE")' \
    'if not token and path:' \
    '    token = open(path, encoding="utf-8").readline().strip()' \
    'headers = {"Authorization": "Bearer " + token} if token else {}' \
    'try:' \
    '    code = urllib.request.urlopen(urllib.request.Request(os.environ["TSVIS_LIVE_HEALTH_URL"], headers=headers), timeout=4).status' \
    'except urllib.error.HTTPError as err:' \
    '    code = err.code' \
    'except OSError as err:' \
    '    sys.exit(f"no answer: {err}")' \
    'sys.exit(0 if code < 500 else f"HTTP {code}")' \
    > /opt/tsvis-live/bin/tsvis-live-healthcheck \
 && chmod 755 /opt/tsvis-live/bin/tsvis-live-healthcheck \
 && useradd --uid 10001 --user-group --home-dir /home/tsvis --create-home --shell /usr/sbin/nologin tsvis \
 && mkdir -p /data /logs \
 && chown tsvis:tsvis /data

USER tsvis
WORKDIR /home/tsvis
VOLUME ["/data"]
EXPOSE 6006

# Healthy when the server answers its status endpoint: 200, or 401/404 (alive, but the check
# lacks the token or, with --logroot, a session); a 5xx (the store unusable) or no answer is
# unhealthy. The token comes from the variables the server reads; TSVIS_LIVE_HEALTH_URL must
# follow --port and --path_prefix when those change.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["tsvis-live-healthcheck"]

# --bind_all listens on every interface and needs a token: TSVIS_LIVE_TOKEN, or
# TSVIS_LIVE_TOKEN_FILE naming a file (a Docker/Kubernetes secret). Without one the server
# refuses to start and says so.
CMD ["tsvis-live", "--logdir", "/logs", "--bind_all"]
