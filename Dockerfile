# syntax=docker/dockerfile:1
# The istio-installer image: the bundled CLI on Node 24 LTS slim, istioctl for each supported Istio version, and the
# release mirror's content (amd64 and arm64 side by side), running as a numeric non-root user with a read-only root.

# Pin both by digest in CI (`--build-arg NODE_IMAGE=docker.io/library/node:24-trixie-slim@sha256:...`).
ARG NODE_BUILD_IMAGE=docker.io/library/node:24-trixie
ARG NODE_IMAGE=docker.io/library/node:24-trixie-slim

# The JavaScript bundle and the downloads do not depend on the target arch: build them natively, never emulated.
FROM --platform=$BUILDPLATFORM ${NODE_BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build \
    # esbuild bundles every production dependency, so the runtime needs no node_modules at all; prove it.
    && npm prune --omit=dev \
    && mv node_modules /tmp/node_modules \
    && node bin/istio-installer.js --version \
    && node bin/istio-installer.js mirror --help >/dev/null

FROM build AS artifacts
ARG TARGETARCH
# Every Istio version the installer may upgrade to or roll back to without a mirror URL (BUNDLED_ISTIO_VERSIONS in
# src/overlay/values-schema.ts): the hops of a stepped upgrade from Rancher 2.9-2.12 (1.25, 1.27, 1.29), N-1 and N.
ARG ISTIO_VERSIONS="1.25.0 1.27.9 1.29.6 1.30.4 1.31.0"
ARG ISTIO_RELEASE_URL=https://github.com/istio/istio/releases/download
ARG MIRROR_ARCHES="amd64 arm64"
COPY docker/build-rootfs.sh docker/istio-sha256sums.txt docker/istio-installer ./docker/
RUN ISTIO_VERSIONS="${ISTIO_VERSIONS}" TARGETARCH="${TARGETARCH}" MIRROR_ARCHES="${MIRROR_ARCHES}" \
    ISTIO_RELEASE_URL="${ISTIO_RELEASE_URL}" CHECKSUMS=docker/istio-sha256sums.txt APP_SRC=/src OUT=/out \
    sh docker/build-rootfs.sh

FROM ${NODE_IMAGE} AS runtime
# No package manager and no sudo at run time: npm, npx, corepack, apt and dpkg go; /var/lib/dpkg/status stays so
# image scanners still see which Debian packages are inside. The base's `node` user (uid 1000) is not used.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
        /usr/bin/apt /usr/bin/apt-get /usr/bin/apt-cache /usr/bin/apt-config /usr/bin/apt-mark /usr/bin/apt-key \
        /usr/bin/apt-cdrom /usr/bin/apt-extracttemplates /usr/bin/apt-ftparchive /usr/bin/apt-sortpkgs \
        /usr/lib/apt /etc/apt /var/lib/apt /var/cache/apt /var/cache/debconf \
        /usr/bin/dpkg /usr/bin/dpkg-* /usr/sbin/dpkg-* /usr/bin/sudo /usr/bin/su
COPY --from=artifacts /out/ /
# The start-up snapshot (src/cli/startup-snapshot.ts) that /usr/local/bin/istio-installer starts Node from: built by this
# stage's own Node, since a snapshot loads only in the binary that made it, and proven by a run. Exec form: no shell.
RUN ["/usr/local/bin/node", "--snapshot-blob", "/opt/istio-installer/istio-installer.blob", \
     "--build-snapshot", "/opt/istio-installer/dist/snapshot/istio-installer.cjs"]
RUN ["/usr/local/bin/istio-installer", "--version"]

ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG ISTIO_VERSIONS="1.25.0 1.27.9 1.29.6 1.30.4 1.31.0"
ARG NODE_IMAGE
LABEL org.opencontainers.image.title="istio-installer" \
      org.opencontainers.image.description="Installs, upgrades and rolls back Istio from Rancher-compatible values; serves an air-gapped release mirror." \
      org.opencontainers.image.source="https://github.com/rancher-istio/rancher-istio" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}" \
      io.rancher-istio.istio-versions="${ISTIO_VERSIONS}"

# Memory settings for a flat RSS under many concurrent downloads (bench:mirror runs the server with them): the live
# heap is small, so a 1 MiB young generation suffices; a fixed glibc mmap threshold returns freed download buffers
# to the system instead of letting the heap fragment.
ENV ISTIOCTL_DIR=/usr/local/lib/istioctl \
    NODE_OPTIONS=--max-semi-space-size=1 \
    MALLOC_MMAP_THRESHOLD_=65536 \
    NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/istio-installer"]
CMD ["--help"]
