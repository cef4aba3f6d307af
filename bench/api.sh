#!/usr/bin/env bash
# REST API latency at scale on PostgreSQL: seeds 100,000 interactions (half inbound, half
# replies) with 50,000 memories, labels and deduplicated media for 1,000 users into a fresh
# database with SQL (generate_series), starts a release `mnemo-ingress`, and measures
# /analytics/summary and /memories/list (p50/p99 over N sequential requests each).
#
#   bash bench/api.sh [requests per path=200] [interactions=100000]
#
# Needs PostgreSQL on 127.0.0.1 (BENCH_PG to override). BENCH_PROFILE=debug measures debug
# binaries instead of release ones (slower: an upper bound).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-200}"
ROWS="${2:-100000}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-8098}"
TOKEN="bench-api-token"
DB=mnemo_bench_api

PROFILE="${BENCH_PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p mnemo-ingress -p mnemo-migration -p mnemo-bench
else
  cargo build -q -p mnemo-ingress -p mnemo-migration -p mnemo-bench
fi
BIN="./target/$PROFILE"
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL="$PG/$DB" $BIN/mnemo-migrate up >/dev/null

echo "seeding $ROWS interactions…"
psql "$PG/$DB" -q -v rows="$ROWS" <<'SQL'
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO users (id, phone, display_name, timezone, created_at, updated_at, last_inbound_at)
SELECT gen_random_uuid(), '+1415556' || lpad(u::text, 4, '0'), 'User ' || u, 'America/Los_Angeles',
       now() - interval '400 days', now(), now()
FROM generate_series(0, 999) u;
CREATE TEMP TABLE uids AS SELECT row_number() OVER (ORDER BY phone) - 1 AS n, id FROM users;
-- Inbound messages: 70% text, 20% image, 10% audio, spread over a year; a few unfinished.
INSERT INTO interactions (id, user_id, message_sid, direction, kind, body, status, attempts, occurred_at, created_at, updated_at)
SELECT gen_random_uuid(), u.id, 'SMseed' || i, 'inbound',
       CASE WHEN i % 10 < 7 THEN 'text' WHEN i % 10 < 9 THEN 'image' ELSE 'audio' END,
       'note ' || i || ': buy oat milk and call the plumber about the kitchen sink',
       CASE WHEN i % 1000 = 0 THEN 'failed' WHEN i % 997 = 0 THEN 'received' ELSE 'processed' END, 1,
       now() - (i * interval '313 seconds'), now() - (i * interval '313 seconds'), now()
FROM generate_series(1, :rows / 2) i JOIN uids u ON u.n = i % 1000;
-- One reply per inbound message.
INSERT INTO interactions (id, user_id, direction, kind, body, status, attempts, reply_to, purpose, occurred_at, created_at, updated_at)
SELECT gen_random_uuid(), i.user_id, 'outbound', 'text', 'Saved', 'sent', 1, i.id, 'reply',
       i.occurred_at + interval '2 seconds', i.created_at + interval '2 seconds', now()
FROM interactions i WHERE i.direction = 'inbound';
-- One memory per processed inbound message; a third carry labels.
INSERT INTO memories (id, user_id, interaction_id, kind, text, labels, occurred_at, created_at, engine)
SELECT gen_random_uuid(), i.user_id, i.id, i.kind, i.body,
       CASE WHEN substr(i.message_sid, 7)::int % 3 = 0
            THEN json_build_array((ARRAY['food','work','family','travel','health','ideas'])[substr(i.message_sid, 7)::int % 6 + 1])
            ELSE '[]'::json END,
       i.occurred_at, i.created_at, 'local'
FROM interactions i WHERE i.direction = 'inbound' AND i.status = 'processed';
-- Media: 3,000 objects shared by the image and audio messages (dedup).
INSERT INTO media_objects (id, sha256, size_bytes, content_type, storage_key, ref_count, created_at)
SELECT gen_random_uuid(), encode(sha256(o::text::bytea), 'hex'), 50000 + o * 37, 'image/jpeg',
       encode(sha256(o::text::bytea), 'hex'), 0, now()
FROM generate_series(0, 2999) o;
CREATE TEMP TABLE oids AS SELECT row_number() OVER (ORDER BY sha256) - 1 AS n, id FROM media_objects;
INSERT INTO interaction_media (id, interaction_id, media_object_id, position, content_type, created_at)
SELECT gen_random_uuid(), i.id, o.id, 0, 'image/jpeg', i.created_at
FROM interactions i JOIN oids o ON o.n = (substr(i.message_sid, 7)::int * 7) % 3000
WHERE i.direction = 'inbound' AND i.kind IN ('image', 'audio');
UPDATE media_objects mo SET ref_count = c.n
FROM (SELECT media_object_id, COUNT(*) AS n FROM interaction_media GROUP BY media_object_id) c
WHERE c.media_object_id = mo.id;
COMMIT;
VACUUM ANALYZE;
SQL
psql "$PG/$DB" -Atc "SELECT 'interactions=' || (SELECT COUNT(*) FROM interactions) || ' memories=' || (SELECT COUNT(*) FROM memories) || ' labels=' || (SELECT COUNT(*) FROM memory_labels) || ' media links=' || (SELECT COUNT(*) FROM interaction_media)"

USER_PHONE="%2B14155560042"
export DATABASE_URL="$PG/$DB" BIND_ADDR="127.0.0.1:$PORT" API_TOKEN="$TOKEN" EMBEDDED_WORKER=false \
  QUEUE_NAME="mnemo-bench-api:$(date +%s)" RUST_LOG=warn
$BIN/mnemo-ingress &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

CURSOR=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/memories/list?limit=100" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"])')
$BIN/mnemo-bench-api "http://127.0.0.1:$PORT" "$TOKEN" "$N" \
  "/analytics/summary" \
  "/analytics/summary?user=$USER_PHONE" \
  "/memories/list" \
  "/memories/list?limit=100&cursor=$CURSOR" \
  "/memories/list?user=$USER_PHONE" \
  "/memories/list?kind=image&range=last%20month" \
  "/memories/list?user=$USER_PHONE&kind=audio"
kill $PID; wait $PID 2>/dev/null || true
trap - EXIT
