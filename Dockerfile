# One image for every onsale process: the command picks the role
# (`api`, `worker`, `migrate`, `demo-data`); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them: exactly the pins and
# hashes of requirements.lock, the same file `make run` and `make test` install from.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# The project itself, built by the locked setuptools (no build-time download).
COPY pyproject.toml README.md ./
COPY api ./api
COPY engine ./engine
COPY waitingroom ./waitingroom
COPY workers ./workers
COPY loadtests ./loadtests
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --create-home --home-dir /home/onsale onsale

USER onsale
ENV ONSALE_HOST=0.0.0.0 \
    ONSALE_PORT=8080 \
    ONSALE_DATA_DIR=/home/onsale/data
EXPOSE 8080
# No HEALTHCHECK here: only the `api` role serves HTTP; docker-compose.yml gives it one.

ENTRYPOINT ["onsale"]
CMD ["api"]
