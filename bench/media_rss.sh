#!/usr/bin/env bash
# Worker memory with large media in flight, on PostgreSQL + Redis (the production shape).
#
#   bash bench/media_rss.sh [files=1] [size_bytes=16777216] [rate_mib_per_s=4]
#
# Starts a release `mnemo-ingress` (no embedded worker, dry-run replies) and a separate release
# `mnemo-worker` against a fresh database `mnemo_bench_media` and a fresh Redis queue, plus
# `mnemo-bench-media-server` as TWILIO_API_BASE serving distinct pseudo-random files of
# `size_bytes` at `rate` MiB/s (so each stays in flight for seconds). Warms the worker with one
# small file, then posts `files` media webhooks at once and samples the worker's VmRSS every
# 100 ms until every file is stored. Prints the worker's RSS before, the peak while the files
# were in flight (VmHWM) and the size of what was stored. Needs PostgreSQL and Redis on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES="${1:-1}"
SIZE="${2:-16777216}"
RATE="${3:-4}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
REDIS="${BENCH_REDIS:-redis://127.0.0.1:6379}"
PORT="${BENCH_PORT:-8097}"
MEDIA_PORT="${BENCH_MEDIA_PORT:-8096}"
DB=mnemo_bench_media
WORK=$(mktemp -d)

# BENCH_PROFILE=debug measures the debug binaries instead (an upper bound; no release build).
PROFILE="${BENCH_PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p mnemo-ingress -p mnemo-worker -p mnemo-migration -p mnemo-bench
else
  cargo build -q -p mnemo-ingress -p mnemo-worker -p mnemo-migration -p mnemo-bench
fi
BIN="./target/$PROFILE"
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL="$PG/$DB" "$BIN"/mnemo-migrate up >/dev/null

export DATABASE_URL="$PG/$DB" REDIS_URL="$REDIS" EMBEDDED_WORKER=false \
  BIND_ADDR="127.0.0.1:$PORT" PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  TWILIO_API_BASE="http://127.0.0.1:$MEDIA_PORT" MEDIA_DIR="$WORK/media" \
  QUEUE_NAME="mnemo-bench-media:$(date +%s)" MAX_MEDIA_BYTES=$((SIZE + 1024)) RUST_LOG=warn

"$BIN"/mnemo-bench-media-server "$MEDIA_PORT" "$SIZE" "$RATE" video/mp4 2>/dev/null &
MEDIA_PID=$!
"$BIN"/mnemo-ingress &
INGRESS_PID=$!
"$BIN"/mnemo-worker &
WORKER_PID=$!
trap 'kill $MEDIA_PID $INGRESS_PID $WORKER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

post() { # sid url
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/webhook" \
    --data-urlencode "MessageSid=$1" --data-urlencode "From=whatsapp:+14155550123" \
    --data-urlencode "Body=" --data-urlencode "NumMedia=1" \
    --data-urlencode "MediaUrl0=$2" --data-urlencode "MediaContentType0=video/mp4"
}
stored() { psql "$PG/$DB" -Atc "SELECT COUNT(*) FROM media_objects"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$WORKER_PID/status"; }

# Warm-up: one small file through the whole pipeline (connections, pools, allocator).
RUN=$(date +%s%N)
# Twilio's media paths (the only ones the downloader fetches from TWILIO_API_BASE) and SIDs.
MEDIA="http://127.0.0.1:$MEDIA_PORT/2010-04-01/Accounts/ACbench/Messages"
WARM=$(printf 'MMffff%028d' "$RUN")
post "$WARM" "$MEDIA/$WARM/Media/MEwarm"
for _ in $(seq 1 600); do [ "$(stored)" -ge 1 ] && break; sleep 0.1; done
sleep 1
BEFORE=$(rss)

POSTS=()
for i in $(seq 1 "$FILES"); do
  SID=$(printf 'MM%019d%013d' "$RUN" "$i")
  post "$SID" "$MEDIA/$SID/Media/ME$i" &
  POSTS+=($!)
done
wait "${POSTS[@]}"
PEAK=0
START=$(date +%s)
while [ "$(stored)" -lt $((FILES + 1)) ]; do
  R=$(rss); [ "$R" -gt "$PEAK" ] && PEAK=$R
  if [ $(( $(date +%s) - START )) -gt 600 ]; then echo "timed out" >&2; exit 1; fi
  sleep 0.1
done
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$WORKER_PID/status")
BYTES=$(psql "$PG/$DB" -Atc "SELECT SUM(size_bytes) FROM media_objects")
echo "profile:                $PROFILE"
echo "files in flight:        $FILES x $SIZE bytes at $RATE MiB/s each"
echo "stored:                 $(stored) objects, $BYTES bytes"
echo "worker RSS before:      $((BEFORE / 1024)) MB"
echo "worker RSS peak (100ms samples while in flight): $((PEAK / 1024)) MB"
echo "worker VmHWM (peak over its whole life): $((HWM / 1024)) MB"
kill $INGRESS_PID $WORKER_PID $MEDIA_PID 2>/dev/null || true
wait 2>/dev/null || true
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
