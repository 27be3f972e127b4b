# syntax=docker/dockerfile:1
# The portal as one immutable image: the data is validated and built into SQLite when the image is
# built, so every replica serves the same read-only file and replicas can be added or removed freely
# (Cloud Run, Fly, Kubernetes). Build: docker build -t kechuang .   Run: docker run -p 8080:8080 kechuang

# The package as a wheel: the code with the templates, static files, i18n catalogues, pages, plugins and
# nginx template it serves with. The image installs it like any machine would (not editable), so it
# runs from the installed package and not from a copy of the source tree.
FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY build ./build
COPY site ./site
COPY plugins ./plugins
COPY deploy ./deploy
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KECHUANG_ROOT=/app \
    PORT=8080

WORKDIR /app

# The package and its dependencies first, so a data-only change reuses this layer.
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels pip install /wheels/*.whl

# The project: what `kechuang build` compiles into the database.
COPY schemas ./schemas
COPY datasets ./datasets
COPY metadata.yml ./

# The server runs unprivileged and can write only dist/.
RUN useradd --system --uid 10001 kechuang && mkdir dist && chown kechuang dist
USER kechuang

# Validate and build at image build time (an invalid dataset fails the image build), then count
# the rows once so Datasette does not count them at every start.
RUN kechuang build --out dist/kechuang.db \
 && datasette inspect dist/kechuang.db --inspect-file dist/inspect.json

EXPOSE 8080
# Cloud Run and Fly set $PORT; `kechuang serve` runs `datasette serve --immutable` with the portal's
# metadata, plugins, templates and settings (the same command line as every other way of serving).
CMD ["sh", "-c", "exec kechuang serve --host 0.0.0.0 --port \"$PORT\" --db dist/kechuang.db --inspect-file dist/inspect.json"]
