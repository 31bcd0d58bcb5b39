# syntax=docker/dockerfile:1
# The skiff image: one static binary. `skiff operator` is the default
# command (deploy/kubernetes runs it); any other subcommand works too, e.g.
#   docker run --rm IMAGE version
#
# Build: docker build -t REGISTRY/skiff:TAG .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ...

# Cross-compiles on the build machine's own platform: Skiff is pure Go
# (modernc.org/sqlite needs no cgo), so no emulation is needed.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=v0.1.0-dev
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/skiff ./cmd/skiff

# distroless/static: CA certificates, /etc/passwd with the nonroot user,
# tzdata, and nothing else (no shell, no package manager).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/skiff /usr/local/bin/skiff
USER 65532:65532
EXPOSE 7400 7401
ENTRYPOINT ["/usr/local/bin/skiff"]
CMD ["operator"]
