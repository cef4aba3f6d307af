#!/usr/bin/env bash
# Speed and memory of the local embeddings (issue 12, deliverable 6):
#   a. one note embedded, one thread (MODEL_THREADS=1, RAYON_NUM_THREADS=1: candle's matmul
#      (gemm) parallelises with rayon): p50/p99 over single-sentence notes, and model load time;
#   b. ingest with embeddings: a real `mnemo-ingress` (embedded worker, SQLite, product default
#      threads) receives N signed text webhooks; time until all N memories have vectors;
#   c. `GET /memories?user=…&query=…` p50/p99 on PostgreSQL, 10,000 memories with real vectors
#      for the measured user and 1,000,000 memories in the table (SQL fill from a pool of
#      sentences embedded once by the real model); sequential requests over keep-alive;
#   d. ingress RSS (VmHWM, VmRSS) with the model loaded, after b and c;
#   e. share of the model crates (candle-*, gemm*, tokenizers, safetensors, …) in the release
#      build, from the newest `cargo build --timings` report in target/cargo-timings.
#
#   MODELS_DIR=… bash bench/embed.sh [notes=300] [webhooks=1000] [queries=600] [total_memories=1000000]
#
# Needs PostgreSQL on 127.0.0.1 (BENCH_PG to override); everything else is local and started
# here. BENCH_PROFILE=debug measures the dev build (candle/gemm/tokenizers at opt-level 3 there,
# the rest unoptimised: an upper bound) when no release build can be had.
set -euo pipefail
cd "$(dirname "$0")/.."

NOTES="${1:-300}"
HOOKS="${2:-1000}"
QUERIES="${3:-600}"
TOTAL="${4:-1000000}"
USER_MEMS=10000
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-8096}"
STUB_PORT=$((PORT + 1))
DB=mnemo_bench_embed
TOKEN="bench-token"
API_TOKEN="bench-api-token"
export MODELS_DIR="${MODELS_DIR:-./data/models}" RUST_LOG="${RUST_LOG:-warn}"
PROFILE="${BENCH_PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build --release --timings -q -p mnemo-ingress -p mnemo-migration -p mnemo-bench
else
  cargo build -q -p mnemo-ingress -p mnemo-migration -p mnemo-bench
fi
BIN="./target/$PROFILE"
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, in ticks (100/s)
rss() { awk '/VmHWM/ {h=$2} /VmRSS/ {r=$2} END {printf "VmHWM %.0f MB, VmRSS %.0f MB", h/1024, r/1024}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.2; done; echo "ingress did not start" >&2; exit 1; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# a. One note, one thread.
A=$(MODEL_THREADS=1 RAYON_NUM_THREADS=1 $BIN/mnemo-bench-embed single "$NOTES")
echo "$A"

# b. Ingest with embeddings: ingress + embedded worker on SQLite, replies to a local stub.
$BIN/mnemo-bench-embed twilio-stub "$STUB_PORT" & PIDS+=($!)
SQLITE="sqlite://$TMP/ingest.db?mode=rwc"
DATABASE_URL="$SQLITE" $BIN/mnemo-migrate up >/dev/null
DATABASE_URL="$SQLITE" EMBEDDED_WORKER=true LOCAL_MODELS=required \
  BIND_ADDR="127.0.0.1:$PORT" PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  TWILIO_ACCOUNT_SID=ACbench0000000000000000000000000 TWILIO_AUTH_TOKEN="$TOKEN" \
  TWILIO_WHATSAPP_NUMBER=whatsapp:+14155238886 TWILIO_API_BASE="http://127.0.0.1:$STUB_PORT" \
  $BIN/mnemo-ingress & IPID=$!; PIDS+=($IPID)
wait_up
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/ready" | grep -q '"embeddings":"ready"' && break; sleep 0.2; done
T0=$(date +%s.%N); CPU0=$(cpu $IPID)
W=$($BIN/mnemo-bench-webhook "http://127.0.0.1:$PORT" "$TOKEN" "$HOOKS" 8 200)
V=$(DATABASE_URL="$SQLITE" $BIN/mnemo-bench-embed wait-vectors "$HOOKS" 600)
T1=$(date +%s.%N); CPU1=$(cpu $IPID)
# CPU seconds the ingress + worker spent per note: what bounds the rate on an idle machine.
B_CPU=$(python3 -c "print(f'{($CPU1-$CPU0)/100/$HOOKS*1000:.1f} ms CPU/note, ≈{2*$HOOKS*100/($CPU1-$CPU0):.0f} notes/s on 2 idle cores')")
B_RATE=$(python3 -c "print(f'{$HOOKS/($T1-$T0):.1f}')")
B_SECS=$(python3 -c "print(f'{$T1-$T0:.1f}')")
echo "$W"; echo "$V"
B_RSS=$(rss $IPID)
echo "ingest: $HOOKS notes with vectors in ${B_SECS}s = $B_RATE notes/s ($B_CPU); ingress+worker $B_RSS"
kill $IPID; wait $IPID 2>/dev/null || true

# c. Query latency on PostgreSQL, 10,000 memories for the user, $TOTAL in the table.
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export PGURL="$PG/$DB"
DATABASE_URL="$PGURL" $BIN/mnemo-migrate up >/dev/null
POOL=$(DATABASE_URL="$PGURL" MODEL_THREADS=2 $BIN/mnemo-bench-embed pool 400)
MODEL=$(echo "$POOL" | sed -n 's/^model=//p')
echo "$POOL" | head -1
echo "filling $TOTAL memories…"
FILL0=$(date +%s)
psql "$PGURL" -q -v total="$TOTAL" -v umems="$USER_MEMS" -v model="$MODEL" <<'SQL'
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO users (id, phone, display_name, timezone, created_at, updated_at, last_inbound_at)
SELECT gen_random_uuid(), '+1415557' || lpad(u::text, 4, '0'), 'User ' || u, 'Europe/Berlin',
       now() - interval '400 days', now(), now()
FROM generate_series(0, 1000) u;
CREATE TEMP TABLE uids AS SELECT row_number() OVER (ORDER BY phone) - 1 AS n, id FROM users;
-- The measured user (+14155570000, n = 0): :umems memories; the others share the rest.
INSERT INTO memories (id, user_id, kind, text, labels, occurred_at, created_at, engine)
SELECT gen_random_uuid(), u.id, 'text', p.text, '[]'::json,
       now() - (i * interval '37 minutes'), now() - (i * interval '37 minutes'), 'local'
FROM generate_series(1, :umems) i
JOIN uids u ON u.n = 0
JOIN bench_pool p ON p.n = i % 400;
INSERT INTO memories (id, user_id, kind, text, labels, occurred_at, created_at, engine)
SELECT gen_random_uuid(), u.id, 'text', p.text || ' #' || i, '[]'::json,
       now() - ((i % 20000) * interval '29 minutes'), now() - ((i % 20000) * interval '29 minutes'), 'local'
FROM generate_series(1, :total - :umems) i
JOIN uids u ON u.n = 1 + i % 1000
JOIN bench_pool p ON p.n = (i * 7) % 400;
INSERT INTO memory_embeddings (memory_id, user_id, model, dim, vector, updated_at)
SELECT m.id, m.user_id, :'model', length(p.vector) / 4, p.vector, now()
FROM memories m JOIN uids u ON u.id = m.user_id AND u.n = 0 JOIN bench_pool p ON p.text = m.text;
COMMIT;
VACUUM ANALYZE;
SQL
echo "filled in $(( $(date +%s) - FILL0 ))s: $(psql "$PGURL" -Atc "SELECT 'memories=' || (SELECT COUNT(*) FROM memories) || ' vectors=' || (SELECT COUNT(*) FROM memory_embeddings)")"
DATABASE_URL="$PGURL" EMBEDDED_WORKER=false API_TOKEN="$API_TOKEN" LOCAL_MODELS=required \
  BIND_ADDR="127.0.0.1:$PORT" QUEUE_NAME="mnemo-bench-embed:$(date +%s)" \
  $BIN/mnemo-ingress & IPID=$!; PIDS+=($IPID)
wait_up
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/ready" | grep -q '"embeddings":"ready"' && break; sleep 0.2; done
C=$($BIN/mnemo-bench-embed query "http://127.0.0.1:$PORT" "$API_TOKEN" "+14155570000" "$QUERIES")
echo "$C"
C_RSS=$(rss $IPID)
echo "ingress after queries: $C_RSS"
kill $IPID; wait $IPID 2>/dev/null || true

# e. Model crates' share of the release build (newest --timings report that compiled candle).
E="no --timings report with the model crates in target/cargo-timings (a build that compiles them writes one)"
REPORT=$(ls -t target/cargo-timings/cargo-timing-*.html 2>/dev/null | while read -r f; do grep -q '"name":"candle-core"' "$f" && { echo "$f"; break; }; done || true)
if [ -n "$REPORT" ]; then
  E=$(python3 - "$REPORT" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
total = sum(u["duration"] for u in units)
model = re.compile(r"^(candle|gemm|tokenizers|safetensors|pulp|dyn-stack|ug|reborrow|esaxx|onig|monostate|spm_precompiled|seq-macro|raw-cpuid|half)")
m = sum(u["duration"] for u in units if model.match(u["name"]))
top = sorted((u for u in units if model.match(u["name"])), key=lambda u: -u["duration"])[:4]
print(f"model crates {m:.0f}s of {total:.0f}s summed crate time ({100*m/total:.0f}%); largest: " + ", ".join(f"{u['name']} {u['duration']:.0f}s" for u in top))
PY
)
fi

echo
echo "== embeddings speed and memory ($PROFILE build, load at end: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
printf '%-34s %s\n' "a. one note, 1 thread (≤30 ms p50)" "$A"
printf '%-34s %s\n' "b. ingest with vectors (≥50/s)" "$B_RATE notes/s ($HOOKS notes, ${B_SECS}s; $B_CPU)"
printf '%-34s %s\n' "c. GET /memories?query= (p99≤30ms)" "$C"
printf '%-34s %s\n' "d. RSS ingress+worker (≤300 MB)" "$B_RSS (after b); $C_RSS (after c)"
printf '%-34s %s\n' "e. build share of model crates" "$E"
