# syntax=docker/dockerfile:1
# The portal as one immutable image: the data is validated and released into SQLite when the image is
# built, so every replica serves the same read-only file and replicas can be added or removed freely
# (Cloud Run, Fly, Kubernetes: deploy/kubernetes/). A release is a new image, tagged with its version.
#   docker build --build-arg RELEASE_VERSION=2026.12.0 -t kechuang:2026.12.0 .
#   docker run -p 8080:8080 kechuang:2026.12.0
# BASE is any Debian-like image with python3 and its venv module (3.11+): the official slim Python image
# by default; tests/test_image.py builds on a bookworm base made locally with mmdebstrap.
ARG BASE=python:3.11-slim-bookworm

# What the package depends on, read from pyproject.toml: its own stage, so the dependencies' layer below is
# reused for as long as this list is unchanged, whatever else changes.
FROM ${BASE} AS requirements
COPY pyproject.toml /
RUN python3 -c "import tomllib; print(chr(10).join(tomllib.load(open('/pyproject.toml', 'rb'))['project']['dependencies']))" > /requirements.txt

# The package as a wheel: the code with the templates, static files, i18n catalogues, pages, plugins and
# nginx template it serves with.
FROM ${BASE} AS wheel
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir --quiet "hatchling>=1.27,<2"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY build ./build
COPY site ./site
COPY plugins ./plugins
COPY deploy ./deploy
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --quiet --wheel-dir /wheels .

# A virtualenv with the dependencies, then the wheel (not editable: the image runs the installed package,
# never a copy of the source tree); pip itself is removed, the image installs nothing at run time.
FROM ${BASE} AS dependencies
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/kechuang \
 && /opt/kechuang/bin/pip install --no-cache-dir --quiet --disable-pip-version-check -r /tmp/requirements.txt

FROM dependencies AS venv
COPY --from=wheel /wheels /tmp/wheels
RUN /opt/kechuang/bin/pip install --no-cache-dir --quiet --disable-pip-version-check --no-deps /tmp/wheels/*.whl \
 && /opt/kechuang/bin/pip uninstall --quiet --yes pip setuptools

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/kechuang/bin:$PATH \
    KECHUANG_ROOT=/app \
    PORT=8080
COPY --from=venv /opt/kechuang /opt/kechuang

# The project: what `kechuang release` validates and compiles into the database.
WORKDIR /app
COPY schemas ./schemas
COPY datasets ./datasets
COPY metadata.yml ./

# The server runs unprivileged and can write only dist/.
RUN useradd --system --uid 10001 --no-create-home kechuang && mkdir dist && chown kechuang dist
USER kechuang

# Validate and release at image build time (an invalid dataset fails the image build); the served file
# is dist/kechuang.db, a link to the release, whose rows are counted once so no start counts them.
ARG RELEASE_VERSION=""
RUN kechuang release ${RELEASE_VERSION:+--version "$RELEASE_VERSION"} \
 && ln -sr "$(ls -d dist/releases/*/ | tail -n 1)kechuang.db" dist/kechuang.db \
 && datasette inspect dist/kechuang.db --inspect-file dist/inspect.json

EXPOSE 8080
# The platform's probe, or Docker's: the release the process serves, read from the database itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/-/release.json' % os.environ.get('PORT', '8080'), timeout=4)"]
# Cloud Run and Fly set $PORT; `kechuang serve` runs granian with the portal's Datasette command line
# and the server's own limits (kechuang.operations.launch), the same as every other way of serving.
CMD ["sh", "-c", "exec kechuang serve --host 0.0.0.0 --port \"$PORT\" --db dist/kechuang.db --inspect-file dist/inspect.json"]
