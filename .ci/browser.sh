#!/usr/bin/env bash
# Browser tests of the web console (issue 8): Debian's chromium driven by playwright-core
# (never a browser of its own), against a debug mnemo-ingress in zero-settings embedded mode
# (temp SQLite, dry-run replies). Screenshots: target/console-screenshots/.
# CONSOLE_EXPECT_STORED_MEDIA=1 also asserts the photo was downloaded and stored (once the
# worker allows the console host, Settings::media_hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
fi
NODE_DIR=$ROOT/target/console-browser
if [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && [ -f package.json ] || echo '{"private":true}' > package.json)
  (cd "$NODE_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund playwright-core@1)
fi
cp .ci/console-browser.mjs "$NODE_DIR/console-browser.mjs"

cargo build -p mnemo-ingress
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TMP=$(mktemp -d)
SHOTS=$ROOT/target/console-screenshots
rm -rf "$SHOTS"; mkdir -p "$SHOTS"
env -i PATH="$PATH" HOME="$TMP" \
  BIND_ADDR=127.0.0.1:$PORT PUBLIC_BASE_URL=http://127.0.0.1:$PORT \
  DATABASE_URL="sqlite://$TMP/mnemo.db?mode=rwc" MEDIA_DIR="$TMP/media" \
  "$ROOT/target/debug/mnemo-ingress" > "$TMP/ingress.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
if ! node "$NODE_DIR/console-browser.mjs" "http://127.0.0.1:$PORT" "$SHOTS"; then
  echo "--- ingress log ---"; tail -n 50 "$TMP/ingress.log"
  exit 1
fi
echo "screenshots in $SHOTS:"; ls "$SHOTS"
