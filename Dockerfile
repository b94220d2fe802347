# syntax=docker/dockerfile:1
# Multi-stage build: dependencies cached in their own layer, a locked release build, and a
# runtime image FROM scratch holding only the binary, the shared libraries it links (glibc,
# libgcc_s, OpenSSL 3), the CA bundle and a passwd entry: no shell, no package manager.
#
#   docker build -t signgate .                      (Docker Hub's rust:1-trixie)
#   scripts/container                               (podman, with a toolchain image made locally
#                                                    from Debian's packages; see that script)
#
# The build stage's image must be Debian (apt-get below) with rustc >= 1.85, the project's
# rust-version; trixie's own rustc is 1.85.

ARG RUST_IMAGE=docker.io/library/rust:1-trixie

FROM ${RUST_IMAGE} AS build
# OpenSSL's headers, pkg-config and the CA bundle, unless the image has them already (a
# toolchain image made with them needs no package index).
RUN dpkg -s libssl-dev pkg-config ca-certificates >/dev/null 2>&1 || { apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config ca-certificates \
 && rm -rf /var/lib/apt/lists/*; }
WORKDIR /src
# Dependencies first, so source changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY crates/cloudfront/Cargo.toml crates/cloudfront/Cargo.toml
COPY crates/providers/Cargo.toml crates/providers/Cargo.toml
COPY crates/testkit/Cargo.toml crates/testkit/Cargo.toml
RUN mkdir -p src crates/cloudfront/src crates/providers/src crates/testkit/src bench \
 && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
 && echo '' > crates/cloudfront/src/lib.rs && echo '' > crates/providers/src/lib.rs \
 && echo '' > crates/testkit/src/lib.rs \
 && for b in signrate loadgen floor; do echo 'fn main() {}' > bench/$b.rs; done \
 && cargo build --release --locked --bin signgate \
 && rm -rf src crates/cloudfront/src crates/providers/src crates/testkit/src
COPY src src
COPY crates crates
# The demo keys of config/dev/ are compiled in (to refuse them outside a dev setup).
COPY config config
COPY bench/signrate.rs bench/loadgen.rs bench/floor.rs bench/
# COPY keeps the files' old times; touch them so cargo rebuilds the real sources over the stubs.
RUN touch src/main.rs src/lib.rs crates/*/src/lib.rs bench/*.rs \
 && cargo build --release --locked --bin signgate
# The runtime's whole file system: the binary, what `ldd` says it loads, the CA bundle
# (outbound TLS: JWKS, session stores), and user 10001 for tools that look it up.
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc/ssl/certs /rootfs/app /rootfs/tmp \
 && chmod 1777 /rootfs/tmp \
 && cp target/release/signgate /rootfs/usr/local/bin/signgate \
 && ldd target/release/signgate | grep -o '/[^ ]*' | sort -u \
    | xargs -I{} cp --parents -L {} /rootfs/ \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && echo 'signgate:x:10001:10001:signgate:/app:/nonexistent' > /rootfs/etc/passwd \
 && echo 'signgate:x:10001:' > /rootfs/etc/group

FROM scratch
LABEL org.opencontainers.image.title="signgate" \
      org.opencontainers.image.description="Authenticate, authorize, and answer with a signed CDN URL" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /rootfs/ /
COPY config/ /app/config/
WORKDIR /app
# Numeric user: works with runAsNonRoot in Kubernetes without a passwd lookup.
USER 10001:10001
# In a container the service listens on every interface (the built-in configuration says
# loopback); a mounted configuration (SIGNGATE_CONFIG) may say otherwise, these still win.
ENV SIGNGATE_CONFIG=/app/config/signgate.toml \
    SIGNGATE_SERVER__LISTEN=0.0.0.0:8080 \
    SIGNGATE_SERVER__METRICS_LISTEN=0.0.0.0:9090 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["signgate", "healthcheck"]
ENTRYPOINT ["signgate"]
CMD ["serve"]
