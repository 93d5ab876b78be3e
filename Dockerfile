# certbroker in a container: build, then a slim runtime with only the binary, CA
# certificates and OpenSSL's runtime library.
#
#   docker build -t certbroker .
#   docker run -d --name certbroker -p 8443:8443 -v certbroker-data:/data \
#     -e CERTBROKER__AUTH__TOKEN=devtoken certbroker
#
# Ports: 8443 HTTPS (the Key Vault API, /metrics, /healthz, /readyz, the console at /ui);
# optionally 8080 plain HTTP for ACME HTTP-01 challenges when
# CERTBROKER__ACME__HTTP01_LISTEN=0.0.0.0:8080 is set (map host port 80 to it).
# Data: everything certbroker keeps (SQLite database, master key, TLS and CA material) is
# under the /data volume; clients trust /data/tls/ca.pem (or set tls.cert_file).
# Settings: every key of config/default.toml from the environment,
# CERTBROKER__SECTION__KEY (e.g. CERTBROKER__METRICS__TOKEN_SHA256).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY config config
COPY migrations migrations
COPY src src
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin certbroker \
 && strip target/release/certbroker

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 certbroker \
 && useradd --system --uid 10001 --gid certbroker --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin certbroker \
 && mkdir /data && chown certbroker:certbroker /data && chmod 0700 /data
COPY --from=build /src/target/release/certbroker /usr/local/bin/certbroker
ENV CERTBROKER__STORAGE__DATA_DIR=/data \
    CERTBROKER__SERVER__LISTEN=0.0.0.0:8443 \
    CERTBROKER__LOG__FORMAT=json
VOLUME ["/data"]
EXPOSE 8443
USER 10001:10001
WORKDIR /data
# GET /readyz over TLS, trusting /data/tls/ca.pem: exit 0 when ready, 1 otherwise.
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 \
  CMD ["certbroker", "healthcheck", "--timeout", "5"]
ENTRYPOINT ["certbroker"]
CMD ["serve"]
