# Pinned: a rebuild months later must not pick up a new Python or Debian release.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/lock.txt ./requirements/lock.txt
COPY app ./app
COPY migrations ./migrations
# The versions the suite last passed with (scripts/lock).
RUN pip install -c requirements/lock.txt . && rm -rf /src

RUN useradd --system --create-home --home-dir /data --uid 10001 keyrack
USER keyrack
# The embedded SQLite database and its generated secret live here; mount a volume on it,
# or set KEYRACK_DATABASE_URL and KEYRACK_SECRET_KEY for PostgreSQL.
WORKDIR /data
VOLUME ["/data"]

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["keyrack", "serve", "--host", "0.0.0.0", "--port", "8000"]
