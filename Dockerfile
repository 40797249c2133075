# syntax=docker/dockerfile:1
# Relay's container image: one `relay` binary, run with a subcommand (`serve`, `deliver`, ...); the Helm chart
# in helm/relay runs this image.
#
#   docker build -t relay:0.1.0 .
#
# Build stage: Debian 12, the repository's own dependency script, a Release build of the `relay` target.
FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAY_BUILD_TESTS=OFF \
    && cmake --build /build --target relay \
    && strip --strip-unneeded /build/relay/relay \
    && /build/relay/relay --version

# Runtime stage: debian:12-slim with only the Debian packages that provide the binary's shared libraries
# (tests/unit/helm checks this list against `ldd` of the built binary) and the CA bundle for subscriber TLS.
FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        libc6 \
        libgcc-s1 \
        libstdc++6 \
        librdkafka1 \
        libsasl2-2 \
        libssl3 \
        liblz4-1 \
        libzstd1 \
        zlib1g \
        libprometheus-cpp-core1.0 \
        libyaml-cpp0.7 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid relay --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin relay
COPY --from=build /build/relay/relay /usr/local/bin/relay
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# API (relay serve) and admin (/metrics, /healthz, /readyz) ports.
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/relay"]
CMD ["--help"]
