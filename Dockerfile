# The distroless Vault and OpenBao images with hardinit as PID 1 and docker-entrypoint.sh.
#
#   docker build --target vault   --build-arg VAULT_VERSION=1.21.1 -t vault-hardinit .
#   docker build --target openbao --build-arg OPENBAO_VERSION=2.7.2 -t openbao-hardinit .
#
# The final stages are FROM scratch and hold exactly image/manifest.<flavour>.txt: hardinit, the
# server binary, CA certificates, /etc/passwd and /etc/group, the server's directories, and
# /bin/sh as a link to hardinit (which runs the Helm charts' scripts and nothing else). No shell,
# no package manager, no interpreter. scripts/assemble-rootfs.sh makes that tree here and in the
# tests (under runc), so what the tests run is what this file ships.
ARG VAULT_VERSION=1.21.1
ARG OPENBAO_VERSION=2.7.2

# The build stage runs on the build machine's platform and cross-compiles hardinit for the target
# platform's Rust musl target (README: Platforms); the server stages below, without --platform,
# are the official image of the target platform. No stage runs emulated. The legacy builder sets
# neither BUILDPLATFORM nor TARGETARCH: it builds linux/amd64.
FROM --platform=${BUILDPLATFORM:-linux/amd64} rust:1.95-bookworm AS build
ARG TARGETARCH
ARG TARGETVARIANT
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY scripts ./scripts
COPY image ./image
RUN case "$TARGETARCH/$TARGETVARIANT" in \
        amd64/* | /) target=x86_64-unknown-linux-musl ;; \
        arm64/*) target=aarch64-unknown-linux-musl ;; \
        arm/v6) target=arm-unknown-linux-musleabihf ;; \
        arm/v7 | arm/) target=armv7-unknown-linux-musleabihf ;; \
        386/*) target=i686-unknown-linux-musl ;; \
        ppc64le/*) target=powerpc64le-unknown-linux-musl ;; \
        riscv64/*) target=riscv64gc-unknown-linux-musl ;; \
        *) echo "no Rust musl target with a standard library for linux/$TARGETARCH/$TARGETVARIANT (README: Platforms)" >&2; exit 1 ;; \
    esac \
    && bash scripts/build-static.sh "$target" > /hardinit.path && cp "$(cat /hardinit.path)" /hardinit

# Each flavour's chain comes whole, openbao's first: the legacy builder (DOCKER_BUILDKIT=0) builds
# every stage before its --target, so `--target openbao` needs only rust and openbao/openbao, and
# BuildKit builds only the stages the target needs.
FROM openbao/openbao:${OPENBAO_VERSION} AS openbao-server

FROM build AS assemble-openbao
COPY --from=openbao-server /usr/bin/bao /server
RUN bash scripts/assemble-rootfs.sh openbao /rootfs /hardinit /server /etc/ssl/certs/ca-certificates.crt

FROM scratch AS openbao
ARG OPENBAO_VERSION
COPY --from=assemble-openbao /rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HISTFILE=/dev/null HISTSIZE=0 HISTFILESIZE=0 SAVEHIST=0 LESSHISTFILE=/dev/null
LABEL org.opencontainers.image.title="openbao-hardinit" \
      org.opencontainers.image.description="OpenBao, distroless, with hardinit as PID 1" \
      org.opencontainers.image.version="${OPENBAO_VERSION}" \
      org.opencontainers.image.licenses="MPL-2.0"
EXPOSE 8200 8201
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["server", "-dev", "-dev-no-store-token"]

FROM hashicorp/vault:${VAULT_VERSION} AS vault-server

FROM build AS assemble-vault
COPY --from=vault-server /bin/vault /server
RUN bash scripts/assemble-rootfs.sh vault /rootfs /hardinit /server /etc/ssl/certs/ca-certificates.crt

FROM scratch AS vault
ARG VAULT_VERSION
COPY --from=assemble-vault /rootfs/ /
# Exec sessions (docker exec, kubectl exec) get the image's environment, not the server's.
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HISTFILE=/dev/null HISTSIZE=0 HISTFILESIZE=0 SAVEHIST=0 LESSHISTFILE=/dev/null
LABEL org.opencontainers.image.title="vault-hardinit" \
      org.opencontainers.image.description="HashiCorp Vault, distroless, with hardinit as PID 1" \
      org.opencontainers.image.version="${VAULT_VERSION}" \
      org.opencontainers.image.licenses="MPL-2.0 AND BUSL-1.1"
EXPOSE 8200 8201
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["server", "-dev", "-dev-no-store-token"]
