# syntax=docker/dockerfile:1
# diffperf on a GPU runtime image, for workflows that run the benchmark job in
# a container with GPUs (container: with --gpus all). The final stage adds
# diffperf and git to RUNTIME_IMAGE, by default sglang's public image.
#
#   docker build -t diffperf --build-arg RUNTIME_IMAGE=lmsysorg/sglang:latest@sha256:DIGEST .
#
# Both images are pinned by digest (name:tag@sha256:...), so that a build
# gets exactly the image that was reviewed; refresh a digest with
# `docker buildx imagetools inspect IMAGE:TAG`. The final stage has
# bubblewrap, which the sandbox needs (docs/sandbox.md: the container must
# allow user namespaces, e.g. docker run --security-opt seccomp=unconfined
# where the default profile refuses them).

ARG GO_IMAGE=golang:1.26-bookworm@sha256:9fdc884aacc3bec89b20ffc69f4bb369c78210e3e4f600387b5128b12c199f81
ARG RUNTIME_IMAGE=lmsysorg/sglang:latest@sha256:ceaf8b16e02d165143633ac228bbb994a05fe77d7e0526cf035ae4bbf4eacc36

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags="-s -w" -o /out/diffperf .

FROM ${RUNTIME_IMAGE}
RUN { command -v git && command -v bwrap; } >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends git ca-certificates bubblewrap && rm -rf /var/lib/apt/lists/*; }
COPY --from=build /out/diffperf /usr/local/bin/diffperf
ENTRYPOINT ["/usr/local/bin/diffperf"]
CMD ["action"]
