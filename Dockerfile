# syntax=docker/dockerfile:1
# Microtask's image: a static binary (CGO_ENABLED=0: the embedded database's
# SQLite, modernc.org/sqlite, is pure Go) on an empty base, run as
# an unprivileged user, with DATA_DIR (the embedded database, the JWT secret
# it generates, the images it keeps) a volume. With MONGODB_URI set the
# volume only keeps images (unless IMGBB_API_KEY) and can be left out.
#
#   docker build -t microtask .
#   docker run -p 5000:5000 -v microtask-data:/data microtask
#
# compose.yaml runs it on MongoDB (a one-member replica set).

FROM golang:1.26-bookworm AS build
WORKDIR /src
# The modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The whole root file system of the image, laid out here: the empty base
# has no /tmp (multipart uploads spill to it; the embedded database's socket
# goes there when DATA_DIR's path is too long), no CA certificates (Stripe,
# imgBB and Google are called over TLS) and no directory for the data.
# Copied in one piece, so that the directories keep their modes and owner.
RUN mkdir -p /out/root/usr/local/bin /out/root/etc/ssl/certs /out/root/tmp /out/root/data \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/root/usr/local/bin/microtask ./cmd/microtask \
 && cp /etc/ssl/certs/ca-certificates.crt /out/root/etc/ssl/certs/ \
 && chmod 1777 /out/root/tmp \
 && chown 65532:65532 /out/root/data

FROM scratch
COPY --from=build /out/root/ /
# A numeric user: no /etc/passwd on this base, and Kubernetes' runAsNonRoot
# can check it.
USER 65532:65532
ENV DATA_DIR=/data \
    HTTP_ADDR=:5000
VOLUME ["/data"]
EXPOSE 5000
# Liveness through the binary itself (the base has no shell and no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/microtask", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/microtask"]
CMD ["serve"]
