# One image for every onsale process: the command picks the role
# (`api`, `worker`, `migrate`, `demo-data`); see docker-compose.yml.
#
# Built on Debian bookworm's own Python 3.11 (no image registry needed): the base is
# the image deploy/docker/build-images.sh makes offline with debootstrap. Any Debian
# bookworm image works as BASE (`--build-arg BASE=debian:bookworm-slim`).
# A CA bundle at deploy/docker/ca-certificates.crt (build-images.sh copies the host's
# there) is installed first, so apt and pip trust what the build host trusts.
ARG BASE=onsale-base:bookworm
FROM ${BASE}

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/onsale/bin:$PATH

# The glob matches nothing without a bundle; requirements.lock keeps the COPY valid.
COPY requirements.lock deploy/docker/ca-certificates.cr[t] /tmp/build/
RUN if [ -f /tmp/build/ca-certificates.crt ]; then \
        cp /tmp/build/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt; fi \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so code changes do not reinstall them: exactly the pins and
# hashes of requirements.lock, the same file `make run` and `make test` install from.
RUN python3 -m venv /opt/onsale \
    && PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
       pip install --quiet --require-hashes -r /tmp/build/requirements.lock

# The project itself, built by the locked setuptools (no build-time download).
COPY pyproject.toml README.md ./
COPY api ./api
COPY engine ./engine
COPY waitingroom ./waitingroom
COPY workers ./workers
COPY loadtests ./loadtests
RUN pip install --quiet --no-deps --no-build-isolation . \
    && useradd --system --create-home --home-dir /home/onsale onsale \
    && rm -rf /tmp/build build

USER onsale
ENV ONSALE_HOST=0.0.0.0 \
    ONSALE_PORT=8080 \
    ONSALE_DATA_DIR=/home/onsale/data
EXPOSE 8080
# No HEALTHCHECK here: only the `api` role serves HTTP; docker-compose.yml gives it one.

ENTRYPOINT ["onsale"]
CMD ["api"]
