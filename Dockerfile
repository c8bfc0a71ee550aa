# syntax=docker/dockerfile:1
#
# Latchkey container image: a static binary on distroless, running as an
# unprivileged user. Build: docker build -t latchkey .
# Run (SQLite in a volume):
#   docker run -p 8080:8080 -e LATCHKEY_SECRET="$(openssl rand -hex 32)" \
#     -v latchkey-data:/var/lib/latchkey latchkey
# See docker-compose.yml for PostgreSQL.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that source edits reuse the module cache layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/latchkey ./cmd/latchkey
# The data directory, owned by distroless's nonroot user (65532), so that the
# default SQLite file and generated secret can be written there.
RUN mkdir -p /out/data && chown 65532:65532 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
COPY --from=build --chown=65532:65532 /out/data /var/lib/latchkey
# Relative defaults (latchkey.db, latchkey.secret) resolve here.
WORKDIR /var/lib/latchkey
VOLUME ["/var/lib/latchkey"]
USER nonroot:nonroot
ENV LATCHKEY_LISTEN=:8080
EXPOSE 8080
# distroless has no shell or curl: health checks run `latchkey healthcheck`,
# which GETs http://127.0.0.1:8080/readyz (see docker-compose.yml).
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
