# The distroless Vault and OpenBao images with hardinit as PID 1 and docker-entrypoint.sh.
#
#   docker build --target vault   -t vault-hardinit .
#   docker build --target openbao --build-arg OPENBAO_IMAGE=openbao/openbao:2.7.2@sha256:... -t openbao-hardinit .
#
# The final stages are FROM scratch and hold exactly image/manifest.<flavour>.txt: hardinit, the
# server binary, CA certificates, /etc/passwd and /etc/group, the server's directories, and
# /bin/sh as a link to hardinit (which runs the Helm charts' scripts and nothing else). No shell,
# no package manager, no interpreter. scripts/assemble-rootfs.sh makes that tree here and in the
# tests (under runc), so what the tests run is what this file ships.
ARG VAULT_VERSION=1.21.1
ARG OPENBAO_VERSION=2.7.2
# Every input pinned by digest: a tag can be moved to other bytes, a digest cannot. Each *_IMAGE
# names the release its *_VERSION says (the assembly checks the server's version); README,
# "Verifying an image", says how to update them.
ARG RUST_IMAGE=rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1
ARG VAULT_IMAGE=hashicorp/vault:1.21.1@sha256:f4e2687b72858a9e2160c344c9fa1ef74c07f21a89a8c00534ab64d3f187b927
# NOT PINNED: no digest of openbao/openbao:2.7.2 could be verified when this was written. The
# placeholder is not a valid reference, so `--target openbao` stops at its FROM until
# --build-arg OPENBAO_IMAGE=openbao/openbao:2.7.2@sha256:<digest> replaces it.
ARG OPENBAO_IMAGE=openbao/openbao:2.7.2@sha256:UNPINNED-pass-OPENBAO_IMAGE
# Where the image comes from, for `hardinit --version` and the OCI labels (the build context has
# no .git): --build-arg HARDINIT_REVISION=$(git rev-parse HEAD) and SOURCE_DATE_EPOCH=$(git log -1
# --format=%ct), HARDINIT_CREATED that time in RFC 3339, HARDINIT_SOURCE the repository's URL.
ARG HARDINIT_SOURCE=
ARG HARDINIT_REVISION=
ARG HARDINIT_CREATED=
ARG SOURCE_DATE_EPOCH=

# The build stage runs on the build machine's platform and cross-compiles hardinit for the target
# platform's Rust target, the one CI builds and tests (README: Platforms): musl, or static glibc
# with Debian's cross gcc and C library (pinned: their bytes are linked in) where rustup serves no
# musl rust-std. The server stages below, without --platform, are the official image of the target
# platform. No stage runs emulated. The legacy builder sets neither BUILDPLATFORM nor TARGETARCH:
# it builds linux/amd64.
FROM --platform=${BUILDPLATFORM:-linux/amd64} ${RUST_IMAGE} AS build
ARG TARGETARCH
ARG TARGETVARIANT
WORKDIR /src
# The crates hardinit links, embedded in it for scanners (scripts/build-static.sh).
RUN cargo install --locked cargo-auditable --version 0.7.7
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY scripts ./scripts
COPY image ./image
ARG HARDINIT_REVISION
ARG HARDINIT_COMMIT=${HARDINIT_REVISION}
ARG SOURCE_DATE_EPOCH
# hadolint cannot see the pins through $cross, whose words are the packages, each pinned here.
# hadolint ignore=DL3008,SC2086
RUN cross= \
    && case "$TARGETARCH/$TARGETVARIANT" in \
        amd64/* | /) target=x86_64-unknown-linux-musl ;; \
        arm64/*) target=aarch64-unknown-linux-musl ;; \
        arm/v6) echo "linux/arm/v6: rustup serves no standard library for arm-unknown-linux-musleabihf nor -gnueabihf (README: Platforms)" >&2; exit 1 ;; \
        arm/v7 | arm/) target=armv7-unknown-linux-gnueabihf cross="gcc-arm-linux-gnueabihf=4:12.2.0-3 libc6-dev-armhf-cross=2.36-8cross1" ;; \
        386/*) target=i686-unknown-linux-musl ;; \
        ppc64le/*) target=powerpc64le-unknown-linux-gnu cross="gcc-powerpc64le-linux-gnu=4:12.2.0-3 libc6-dev-ppc64el-cross=2.36-8cross1" ;; \
        riscv64/*) target=riscv64gc-unknown-linux-gnu cross="gcc-riscv64-linux-gnu=4:12.2.0-5 libc6-dev-riscv64-cross=2.36-8cross1" ;; \
        s390x/*) target=s390x-unknown-linux-gnu cross="gcc-s390x-linux-gnu=4:12.2.0-3 libc6-dev-s390x-cross=2.36-8cross1" ;; \
        *) echo "no Rust target with a standard library for linux/$TARGETARCH/$TARGETVARIANT (README: Platforms)" >&2; exit 1 ;; \
    esac \
    && if [ -n "$cross" ]; then \
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $cross && rm -rf /var/lib/apt/lists/*; \
    fi \
    && bash scripts/build-static.sh "$target" > /hardinit.path && cp "$(cat /hardinit.path)" /hardinit

# Each flavour's chain comes whole, openbao's first: the legacy builder (DOCKER_BUILDKIT=0) builds
# every stage before its --target, so `--target openbao` needs only rust and openbao/openbao, and
# BuildKit builds only the stages the target needs.
FROM ${OPENBAO_IMAGE} AS openbao-server

FROM build AS assemble-openbao
COPY --from=openbao-server /usr/bin/bao /server
ARG OPENBAO_VERSION
ARG SOURCE_DATE_EPOCH
RUN HARDINIT_EXPECT_SERVER_VERSION="${OPENBAO_VERSION}" bash scripts/assemble-rootfs.sh openbao /rootfs /hardinit /server /etc/ssl/certs/ca-certificates.crt

FROM scratch AS openbao
ARG OPENBAO_VERSION
ARG HARDINIT_SOURCE
ARG HARDINIT_REVISION
ARG HARDINIT_CREATED
COPY --from=assemble-openbao /rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HISTFILE=/dev/null HISTSIZE=0 HISTFILESIZE=0 SAVEHIST=0 LESSHISTFILE=/dev/null
LABEL org.opencontainers.image.title="openbao-hardinit" \
      org.opencontainers.image.description="OpenBao, distroless, with hardinit as PID 1" \
      org.opencontainers.image.version="${OPENBAO_VERSION}" \
      org.opencontainers.image.licenses="MPL-2.0" \
      org.opencontainers.image.source="${HARDINIT_SOURCE}" \
      org.opencontainers.image.revision="${HARDINIT_REVISION}" \
      org.opencontainers.image.created="${HARDINIT_CREATED}"
EXPOSE 8200 8201
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["server", "-dev", "-dev-no-store-token"]

# The SBOM alone, for CI to publish: docker build --target openbao-sbom --output DIR .
FROM scratch AS openbao-sbom
COPY --from=assemble-openbao /rootfs.sbom.cdx.json /openbao-hardinit.sbom.cdx.json

FROM ${VAULT_IMAGE} AS vault-server

FROM build AS assemble-vault
COPY --from=vault-server /bin/vault /server
ARG VAULT_VERSION
ARG SOURCE_DATE_EPOCH
RUN HARDINIT_EXPECT_SERVER_VERSION="${VAULT_VERSION}" bash scripts/assemble-rootfs.sh vault /rootfs /hardinit /server /etc/ssl/certs/ca-certificates.crt

FROM scratch AS vault
ARG VAULT_VERSION
ARG HARDINIT_SOURCE
ARG HARDINIT_REVISION
ARG HARDINIT_CREATED
COPY --from=assemble-vault /rootfs/ /
# Exec sessions (docker exec, kubectl exec) get the image's environment, not the server's.
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HISTFILE=/dev/null HISTSIZE=0 HISTFILESIZE=0 SAVEHIST=0 LESSHISTFILE=/dev/null
LABEL org.opencontainers.image.title="vault-hardinit" \
      org.opencontainers.image.description="HashiCorp Vault, distroless, with hardinit as PID 1" \
      org.opencontainers.image.version="${VAULT_VERSION}" \
      org.opencontainers.image.licenses="MPL-2.0 AND BUSL-1.1" \
      org.opencontainers.image.source="${HARDINIT_SOURCE}" \
      org.opencontainers.image.revision="${HARDINIT_REVISION}" \
      org.opencontainers.image.created="${HARDINIT_CREATED}"
EXPOSE 8200 8201
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["server", "-dev", "-dev-no-store-token"]

FROM scratch AS vault-sbom
COPY --from=assemble-vault /rootfs.sbom.cdx.json /vault-hardinit.sbom.cdx.json
