#!/usr/bin/env bash
# Ingress memory for one large `POST /memories` upload (issue 15, finding 7: peak ≤ 2× body).
#
#   bash bench/rest_upload_rss.sh [photo_bytes=20000000]
#
# Starts `mnemo-ingress` (BENCH_PROFILE=debug|release, default debug) in zero-settings mode on a
# temporary SQLite database with the worker off (only the request path is measured), creates a
# user, then posts one JSON body carrying `photo_bytes` of JPEG-headed random bytes as
# `media_base64`. Prints the body size, the process's RSS before, its peak (VmHWM) after, and
# the growth as a multiple of the body.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE="${1:-20000000}"
PROFILE="${BENCH_PROFILE:-debug}"
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p mnemo-ingress
else
  cargo build -q -p mnemo-ingress
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
WORK=$(mktemp -d)
env -i PATH="$PATH" HOME="$WORK" BIND_ADDR="127.0.0.1:$PORT" \
  DATABASE_URL="sqlite://$WORK/mnemo.db?mode=rwc" MEDIA_DIR="$WORK/media" \
  EMBEDDED_WORKER=false LOCAL_MODELS=off MAX_MEDIA_BYTES=$((SIZE + 1024)) RUST_LOG=warn \
  "./target/$PROFILE/mnemo-ingress" >"$WORK/ingress.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done

curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/memories" -H 'content-type: application/json' \
  -d '{"user":"+14155550123","kind":"text","text":"warm-up"}' || {
  # The user does not exist yet: create it through the webhook, then warm up.
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/webhook" \
    --data-urlencode "MessageSid=SM0000000000000000000000000000beef" \
    --data-urlencode "From=whatsapp:+14155550123" --data-urlencode "Body=hello"
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/memories" -H 'content-type: application/json' \
    -d '{"user":"+14155550123","kind":"text","text":"warm-up"}'
}
python3 - "$SIZE" "$WORK/body.json" <<'PY'
import base64, json, os, sys
size, path = int(sys.argv[1]), sys.argv[2]
data = b"\xff\xd8\xff\xe0" + os.urandom(size - 4)
with open(path, "w") as f:
    json.dump({"user": "+14155550123", "kind": "image", "content_type": "image/jpeg",
               "media_base64": base64.b64encode(data).decode()}, f)
PY
BODY=$(stat -c %s "$WORK/body.json")
rss() { awk "/$1/ {print \$2}" "/proc/$PID/status"; }
# Reset the high-water mark to the current RSS (Linux ≥ 4.0), so VmHWM is this request's peak.
echo 5 > "/proc/$PID/clear_refs" 2>/dev/null || true
BEFORE=$(rss VmRSS)
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/memories" \
  -H 'content-type: application/json' --data-binary "@$WORK/body.json")
PEAK=$(rss VmHWM)
python3 - "$BODY" "$BEFORE" "$PEAK" "$STATUS" <<'PY'
import sys
body, before, peak, status = int(sys.argv[1]), int(sys.argv[2]) * 1024, int(sys.argv[3]) * 1024, sys.argv[4]
print(f"status {status}; body {body/1e6:.1f} MB; RSS before {before/1e6:.1f} MB; "
      f"peak {peak/1e6:.1f} MB; growth {(peak-before)/1e6:.1f} MB = {(peak-before)/body:.2f}x the body")
PY
