# thredis container image.
#
#   docker build -t thredis .
#   docker run --rm -p 6379:6379 thredis
#   redis-cli -p 6379 PING
#
# Builder and runtime use the same Debian release so the cgo-linked binary
# (SQLite is compiled in with cgo) finds the glibc it was built against.
ARG DEBIAN=trixie

FROM golang:1.26-${DEBIAN} AS build
WORKDIR /src
ENV CGO_ENABLED=1
# Module downloads get their own layer, reused while go.mod/go.sum are unchanged.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/thredis ./cmd/thredis

FROM debian:${DEBIAN}-slim
# A fixed, unprivileged uid/gid so volume ownership is predictable.
RUN groupadd --system --gid 999 thredis \
 && useradd --system --uid 999 --gid thredis --home-dir /data --shell /usr/sbin/nologin thredis \
 && mkdir -p /data \
 && chown thredis:thredis /data
COPY --from=build /out/thredis /usr/local/bin/thredis
VOLUME /data
WORKDIR /data
USER thredis:thredis
EXPOSE 6379
ENTRYPOINT ["thredis"]
# Inside a container the server must listen on all interfaces, and clients
# arrive from the container network rather than loopback, so Redis's
# protected mode (no password + non-loopback client = refused) would turn
# every client away. As the official redis image does, the default command
# turns it off; publish the port only to trusted networks, or replace the
# command with one that sets a password, e.g.
#   docker run -p 6379:6379 thredis --bind 0.0.0.0 --dir /data --requirepass s3cret
# (with a password set, protected mode no longer refuses anyone).
CMD ["--bind", "0.0.0.0", "--dir", "/data", "--protected-mode", "no"]
