# syntax=docker/dockerfile:1
# Multi-stage build: dependencies cached in their own layer, a locked release build, and a slim
# runtime image running as a numeric non-root user.

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY crates/cloudfront/Cargo.toml crates/cloudfront/Cargo.toml
COPY crates/providers/Cargo.toml crates/providers/Cargo.toml
COPY crates/testkit/Cargo.toml crates/testkit/Cargo.toml
RUN mkdir -p src crates/cloudfront/src crates/providers/src crates/testkit/src \
 && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
 && echo '' > crates/cloudfront/src/lib.rs && echo '' > crates/providers/src/lib.rs \
 && echo '' > crates/testkit/src/lib.rs \
 && mkdir -p bench && echo 'fn main() {}' > bench/signrate.rs && echo 'fn main() {}' > bench/loadgen.rs \
 && cargo build --release --locked \
 && rm -rf src crates/cloudfront/src crates/providers/src crates/testkit/src
COPY src src
COPY crates crates
COPY bench/signrate.rs bench/loadgen.rs bench/
RUN touch src/main.rs src/lib.rs crates/cloudfront/src/lib.rs crates/providers/src/lib.rs crates/testkit/src/lib.rs bench/*.rs && cargo build --release --locked --bin signgate

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="signgate" \
      org.opencontainers.image.description="Authenticate, authorize, and answer with a signed CloudFront URL"
WORKDIR /app
COPY --from=build /src/target/release/signgate /usr/local/bin/signgate
COPY config/ /app/config/
# Numeric user: works with runAsNonRoot in Kubernetes without a passwd entry.
USER 10001:10001
ENV SIGNGATE_CONFIG=/app/config/signgate.toml
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["signgate", "healthcheck"]
ENTRYPOINT ["signgate"]
CMD ["serve"]
