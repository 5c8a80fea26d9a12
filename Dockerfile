# syntax=docker/dockerfile:1.7
# The one `coinsence` binary with every chat bot (Matrix, Discord, Telegram: the default
# features), on a distroless runtime: no shell, no package manager, a non-root user. The Helm
# chart (helm/coinsence) runs it as `serve`, `worker`, `bots` and `migrate`.
#   docker build -t coinsence .
# CI lints this file with hadolint (.ci/run); no image is built there.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The Matrix bot's store links the system SQLite (this image has libsqlite3-dev and pkg-config);
# TLS (rustls with ring / aws-lc) is linked statically. The runtime has no SQLite, so its one
# library is copied next to the binary.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin coinsence \
    && mkdir -p /out/lib \
    && cp target/release/coinsence /out/coinsence \
    && cp -L "/usr/lib/$(gcc -print-multiarch)/libsqlite3.so.0" /out/lib/

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/lib/ /usr/local/lib/coinsence/
COPY --from=build /out/coinsence /usr/local/bin/coinsence
# In a container the API listens on every interface (the binary's default is loopback).
ENV LD_LIBRARY_PATH=/usr/local/lib/coinsence \
    COINSENCE_LISTEN=0.0.0.0:8080
WORKDIR /home/nonroot
# distroless's `nonroot`, numeric so Kubernetes can check `runAsNonRoot`.
USER 65532:65532
EXPOSE 8080 9187
ENTRYPOINT ["/usr/local/bin/coinsence"]
CMD ["serve"]
