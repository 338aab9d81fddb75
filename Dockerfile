# closeloop: one image for the three processes. `docker compose up` runs them with PostgreSQL.
# The command picks the process: web (default), worker or clock; the entry point applies
# migrations first when MIGRATE_ON_START=true (compose sets it on the web service only).
FROM python:3.12-slim AS build
WORKDIR /app
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY pyproject.toml constraints.txt ./
COPY bot bot
COPY handlers handlers
COPY storage storage
COPY templates templates
# Editable-free install of the runtime dependencies only (no test tools in the image).
RUN /opt/venv/bin/pip install -c constraints.txt .

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /app closeloop
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# The templates are read from beside the package (bot/texts.py), so the source tree ships too.
COPY --chown=root:root bot bot
COPY --chown=root:root handlers handlers
COPY --chown=root:root storage storage
COPY --chown=root:root templates templates
COPY --chown=root:root deploy/entrypoint.sh /usr/local/bin/closeloop-entrypoint
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json
USER closeloop
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz', timeout=4)" || exit 1
ENTRYPOINT ["closeloop-entrypoint"]
CMD ["web"]
