# The infrastructure images of the compose cluster, each from Debian bookworm's own
# packages on the offline base image (deploy/docker/build-images.sh builds them all):
#   docker build -f infra.Dockerfile --target postgres -t onsale-postgres:15 <context>
# The build context holds only ca-certificates.crt (the host's CA bundle), so apt and
# anything else that speaks TLS at build time trusts what the host trusts.
ARG BASE=onsale-base:bookworm

FROM ${BASE} AS apt
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update -qq

# Postgres 15: the cluster's single source of truth. The entrypoint initialises an
# empty data directory (superuser and database from POSTGRES_USER / _PASSWORD / _DB).
FROM apt AS postgres
RUN apt-get install -y -qq --no-install-recommends postgresql-15 \
    && pg_dropcluster 15 main \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]

# Redis 7.0 (cluster-capable); the command line of each node is in the compose file.
FROM apt AS redis
RUN apt-get install -y -qq --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o redis -g redis /data
WORKDIR /data
USER redis
EXPOSE 6379 16379
CMD ["redis-server", "--protected-mode", "no"]

# HAProxy 2.6: the load balancer in front of the API replicas (config mounted).
FROM apt AS haproxy
RUN apt-get install -y -qq --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/*
USER haproxy
EXPOSE 8080
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]

# Prometheus 2.42, scraping the API replicas (config mounted).
FROM apt AS prometheus
RUN apt-get install -y -qq --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o prometheus -g prometheus /prometheus
USER prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
