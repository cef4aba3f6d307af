#!/usr/bin/env bash
# Webhook throughput benchmark on PostgreSQL + Redis, beside pgbench doing the same writes.
#
#   bash bench/webhook.sh [requests=20000] [connections=64]
#
# Starts a release `mnemo-ingress` (signature checks on, no embedded worker) against a fresh
# database `mnemo_bench` and a fresh Redis queue name, posts pre-signed unique text webhooks
# with `mnemo-bench-webhook`, reports req/s and p50/p99 and the ingress's peak RSS, then runs
# pgbench with the ingress's own statement (user upsert + interaction insert in one statement)
# at the same concurrency for comparison. Needs PostgreSQL and Redis on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-20000}"
C="${2:-64}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
REDIS="${BENCH_REDIS:-redis://127.0.0.1:6379}"
PORT="${BENCH_PORT:-8099}"
TOKEN="bench-token"

cargo build --release -q -p mnemo-ingress -p mnemo-migration -p mnemo-bench
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS mnemo_bench WITH (FORCE)" >/dev/null
psql "$PG/postgres" -qc "CREATE DATABASE mnemo_bench" >/dev/null
DATABASE_URL="$PG/mnemo_bench" ./target/release/mnemo-migrate up >/dev/null

export DATABASE_URL="$PG/mnemo_bench" REDIS_URL="$REDIS" EMBEDDED_WORKER=false \
  BIND_ADDR="127.0.0.1:$PORT" PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  TWILIO_ACCOUNT_SID=ACbench0000000000000000000000000 TWILIO_AUTH_TOKEN="$TOKEN" \
  TWILIO_WHATSAPP_NUMBER=whatsapp:+14155238886 QUEUE_NAME="mnemo-bench:$(date +%s)" \
  DATABASE_MAX_CONNECTIONS="${BENCH_DB_CONNS:-10}" RUST_LOG=warn
./target/release/mnemo-ingress &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

echo "warm-up…"
./target/release/mnemo-bench-webhook "http://127.0.0.1:$PORT" "$TOKEN" 2000 "$C" >/dev/null
./target/release/mnemo-bench-webhook "http://127.0.0.1:$PORT" "$TOKEN" "$N" "$C"
echo "ingress peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$PID/status)"
kill $PID; wait $PID 2>/dev/null || true
trap - EXIT

cat > /tmp/mnemo_pgbench.sql <<'SQL'
\set u random(0, 999)
WITH u AS (
    INSERT INTO users (id, phone, wa_id, display_name, timezone, created_at, updated_at, last_inbound_at)
    VALUES (gen_random_uuid(), '+1415555' || lpad(:u::text, 4, '0'), NULL, 'Bench', 'America/Los_Angeles', now(), now(), now())
    ON CONFLICT (phone) DO UPDATE SET
        last_inbound_at = GREATEST(users.last_inbound_at, EXCLUDED.last_inbound_at),
        display_name = COALESCE(EXCLUDED.display_name, users.display_name),
        wa_id = COALESCE(EXCLUDED.wa_id, users.wa_id),
        updated_at = EXCLUDED.updated_at
    RETURNING id
)
INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, raw, occurred_at, created_at, updated_at)
SELECT gen_random_uuid(), u.id, 'PB' || replace(gen_random_uuid()::text, '-', ''), 'inbound', 'text',
       'benchmark note: buy oat milk and call the plumber', 'received', 0,
       '{"Body": "benchmark note: buy oat milk and call the plumber", "NumMedia": "0"}'::json, now(), now(), now()
FROM u
ON CONFLICT (message_sid) DO NOTHING
RETURNING id, user_id;
SQL
echo "pgbench, same statement (prepared), $C clients:"
pgbench -n -M prepared -c "$C" -j 2 -T 10 -f /tmp/mnemo_pgbench.sql "$PG/mnemo_bench" 2>/dev/null | grep -E "tps|latency average"
