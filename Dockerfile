# syntax=docker/dockerfile:1
# diffperf on a GPU runtime image, for workflows that run the benchmark job in
# a container with GPUs (container: with --gpus all). The final stage adds
# diffperf and git to RUNTIME_IMAGE, by default sglang's public image.
#
#   docker build -t diffperf --build-arg RUNTIME_IMAGE=lmsysorg/sglang:latest .

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=lmsysorg/sglang:latest

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags="-s -w" -o /out/diffperf .

FROM ${RUNTIME_IMAGE}
RUN command -v git >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*; }
COPY --from=build /out/diffperf /usr/local/bin/diffperf
ENTRYPOINT ["/usr/local/bin/diffperf"]
CMD ["action"]
