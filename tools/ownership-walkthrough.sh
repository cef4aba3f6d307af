#!/usr/bin/env bash
# Owning one's memories, end to end on the zero-settings ingress (debug build, SQLite, no
# Twilio): the demo seed's export (file list, one Markdown month), an MCP search_memories call,
# an import into a fresh database (twice: the second imports nothing), and a note corrected and
# then forgotten by replying to it (OriginalRepliedMessageSid).
#
#   cargo build -p mnemo-ingress -p mnemo-migration && bash tools/ownership-walkthrough.sh
#
# Uses port 18080 and a temporary folder; models from target/test-models when .ci/run fetched
# them (otherwise recall is lexical).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug}
D=$(mktemp -d /tmp/mnemo-demo.XXXX); cd "$D"
export MODELS_DIR=${MODELS_DIR:-$ROOT/target/test-models} LOCAL_MODELS=auto RUST_LOG=warn LOG_FORMAT=json
export DATABASE_URL="sqlite://$D/a.db?mode=rwc" MEDIA_DIR="$D/media-a" BIND_ADDR=127.0.0.1:18080
$BIN/mnemo-migrate seed 2>&1 | tail -2
$BIN/mnemo-ingress > a.log 2>&1 & A=$!
for _ in $(seq 100); do curl -sf localhost:18080/health >/dev/null && break; sleep 0.2; done
U='%2B14155550100'
echo "--- GET /users/+14155550100/export"
curl -s -o export.zip -w '%{http_code} %{content_type} %{size_download} bytes\n' "localhost:18080/users/$U/export"
unzip -l export.zip
M=$(unzip -Z1 export.zip | grep '^memories/' | head -1); echo "--- $M"; unzip -p export.zip "$M"
echo "--- MCP token + search_memories"
TOK=$(curl -s -X POST -H 'content-type: application/json' -d '{}' "localhost:18080/users/$U/mcp-tokens" | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
H=(-H "authorization: Bearer $TOK" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
curl -s -D hdr.txt "${H[@]}" localhost:18080/mcp -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}' >/dev/null
SID=$(grep -i '^mcp-session-id' hdr.txt | cut -d' ' -f2 | tr -d '\r')
S=(); [ -n "$SID" ] && S=(-H "mcp-session-id: $SID")
curl -s "${H[@]}" "${S[@]}" localhost:18080/mcp -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
echo '> tools/call search_memories {"query":"what did I plan for dinner?"}'
curl -s "${H[@]}" "${S[@]}" localhost:18080/mcp -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_memories","arguments":{"query":"what did I plan for dinner?"}}}'
echo
kill $A; wait $A 2>/dev/null
echo "--- import into a fresh database"
export DATABASE_URL="sqlite://$D/b.db?mode=rwc" MEDIA_DIR="$D/media-b"
$BIN/mnemo-migrate up 2>&1 | tail -1
$BIN/mnemo-ingress > b.log 2>&1 & B=$!
for _ in $(seq 100); do curl -sf localhost:18080/health >/dev/null && break; sleep 0.2; done
for i in 1 2; do
  printf 'import %s: ' $i
  curl -s -X POST -H 'content-type: application/zip' --data-binary @export.zip "localhost:18080/users/$U/import"; echo
done
curl -s "localhost:18080/memories/list?user=$U&limit=100" | python3 -c 'import sys,json;d=json.load(sys.stdin);print("memories listed after import:", len(d.get("items",d)) if isinstance(d,dict) else len(d))'
kill $B; wait $B 2>/dev/null
echo "demo dir: $D"

echo "--- reply-to-forget over the webhook (zero settings: unsigned webhooks, replies recorded)"
export DATABASE_URL="sqlite://$D/c.db?mode=rwc" MEDIA_DIR="$D/media-c"
$BIN/mnemo-ingress > c.log 2>&1 & C=$!
for _ in $(seq 100); do curl -sf localhost:18080/health >/dev/null && break; sleep 0.2; done
sid() { python3 -c 'import uuid;print("SM"+uuid.uuid4().hex)'; }
say() { # text [quoted sid] -> prints the reply
  local s; s=$(sid)
  local extra=(); [ -n "${2:-}" ] && extra=(--data-urlencode "OriginalRepliedMessageSid=$2")
  curl -s -o /dev/null localhost:18080/webhook --data-urlencode "MessageSid=$s" --data-urlencode "From=whatsapp:+14155550123" \
    --data-urlencode "To=whatsapp:+14155238886" --data-urlencode "Body=$1" --data-urlencode "NumMedia=0" "${extra[@]}"
  for _ in $(seq 150); do
    r=$(python3 - "$D/c.db" "$s" <<'PY'
import sqlite3,sys
c=sqlite3.connect(sys.argv[1]); r=c.execute("select o.body from interactions o join interactions i on o.reply_to=i.id where i.message_sid=? and o.purpose='reply'",(sys.argv[2],)).fetchone()
print(r[0] if r else "")
PY
)
    [ -n "$r" ] && break; sleep 0.2
  done
  LAST=$s; echo "> $1${2:+   (replying to $2)}"; echo "$r" | sed 's/^/< /'
}
say "Parked the car on level 3 of the mall garage"; NOTE=$LAST
say "where did I park?"
say "Actually, level 4 by the lifts" "$NOTE"
say "where did I park?"
say "forget this" "$NOTE"
say "where did I park?"
kill $C; wait $C 2>/dev/null
