#!/usr/bin/env bash
# Pipeline scaling on PostgreSQL + Redis with 1, 2 and 4 worker processes; outside services are
# local stand-ins with a fixed latency (50 ms unless given). Needs PostgreSQL on 127.0.0.1 and redis-server.
#
#   bash bench/scaling.sh [messages per worker=400] [outside latency ms=50]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bins
exec ./target/release/mnemo-bench-scaling "${1:-400}" "${2:-50}"
