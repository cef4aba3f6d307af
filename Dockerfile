# syntax=docker/dockerfile:1
#
# One image with all three binaries: mnemo-ingress (the default command), mnemo-worker and
# mnemo-migrate. docker-compose.yml picks the binary per service with `command:`.
#
#   docker build -t mnemo .
#   docker run --rm -p 8000:8000 -v mnemo-data:/data mnemo      # embedded mode, SQLite in /data

# ---- build ------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target dir are BuildKit cache mounts (kept between builds, absent from the
# image), so the binaries are copied out of target/ in the same step.
RUN --mount=type=cache,id=mnemo-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=mnemo-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=mnemo-target,target=/src/target \
    cargo build --release --locked -p mnemo-ingress -p mnemo-worker -p mnemo-migration \
 && mkdir -p /out \
 && cp target/release/mnemo-ingress target/release/mnemo-worker target/release/mnemo-migrate /out/

# ---- runtime ----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates: reqwest uses rustls with the platform verifier, which reads the system CA
# store (Twilio, Mem0, OpenAI, S3 over https). curl: the ingress health check in
# docker-compose.yml (`curl -fsS http://127.0.0.1:8000/health`).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 mnemo \
 && useradd --system --uid 10001 --gid mnemo --home-dir /app --shell /usr/sbin/nologin mnemo \
 && mkdir -p /app /data /models \
 && chown mnemo:mnemo /data /models \
 && ln -s /data /app/data
COPY --from=build /out/ /usr/local/bin/
# The defaults are relative to the working directory: ./data/mnemo.db and ./data/media, i.e.
# /data (mount a volume there) for the embedded mode. No VOLUME line: worker and migrate
# containers of the same image need no storage.
WORKDIR /app
USER mnemo:mnemo
# Local models live in their own volume (shared by every ingress and worker of a stack);
# `mnemo-ingress fetch-models [--from DIR]` fills it, or the first start fetches in the background.
ENV MODELS_DIR=/models
# Inside a container, listen on every interface (compose and `docker run -e` can override).
ENV BIND_ADDR=0.0.0.0:8000
EXPOSE 8000
CMD ["mnemo-ingress"]
