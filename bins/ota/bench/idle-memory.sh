#!/usr/bin/env bash
# Server memory per idle connected device, over plain MQTT or MQTT over TLS.
#
#   cargo build --release -p ota
#   MODE=plain bins/ota/bench/idle-memory.sh     # or MODE=tls; N devices (default 5000)
#
# Starts `ota serve` on a fresh data directory (loopback ports 18080/18830/18883), registers
# N devices, connects them with `ota sim --keep-running` (over TLS with a throwaway CA made by
# openssl) and prints the server's RSS before and after all N are connected, and the
# difference per device. Each mode runs on its own fresh server, so memory freed by one run
# cannot hide what the other needs.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/../../.." && pwd)/target/release/ota}
N=${N:-5000}
MODE=${MODE:-plain}
WORK=$(mktemp -d)
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.pem -days 2 -subj "/CN=idle-memory CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
  -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf "subjectAltName=IP:127.0.0.1\n" > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile ext.cnf 2>/dev/null
cat server.pem ca.pem > chain.pem
export OTA_ACCESS_KEY_ID=bench OTA_ACCESS_KEY_SECRET=bench-secret OTA_URL=http://127.0.0.1:18080
ulimit -n 20000
"$BIN" serve --data-dir data --http-addr 127.0.0.1:18080 --mqtt-addr 127.0.0.1:18830 \
  --mqtt-tls-addr 127.0.0.1:18883 --tls-cert-file chain.pem --tls-key-file server.key \
  > serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q '"event":"ready"' serve.log && break; sleep 0.1; done
grep -q '"event":"ready"' serve.log || { cat serve.log >&2; exit 1; }
PK=$("$BIN" product create IdleMemory | python3 -c 'import sys, json; print(json.load(sys.stdin)["product_key"])')
"$BIN" device register "$PK" --count "$N" --csv fleet.csv > /dev/null
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
connected() { curl -s http://127.0.0.1:18080/metrics | awk '/^ota_devices_connected/ {print int($2)}'; }
# Bytes the allocator has handed out and not had back (jemalloc builds; refreshed every 5 s):
# what the server's own data holds, without the allocator's retained pages, which make RSS
# before the fleet connects vary by a few MiB between runs.
heap() { curl -s http://127.0.0.1:18080/metrics | awk '/^ota_heap_allocated_bytes/ {printf "%d", $2}'; }
case "$MODE" in
  plain) ARGS=(--mqtt 127.0.0.1:18830) ;;
  tls) ARGS=(--mqtt 127.0.0.1:18883 --tls-ca ca.pem) ;;
  *) echo "MODE must be plain or tls" >&2; exit 2 ;;
esac
sleep 6
BEFORE=$(rss)
HEAP_BEFORE=$(heap)
"$BIN" sim --credentials fleet.csv --keep-running --duration 120 --connect-concurrency 256 \
  --json "${ARGS[@]}" > sim.log 2>&1 &
SIM=$!
for _ in $(seq 1 600); do [ "$(connected)" = "$N" ] && break; sleep 0.2; done
sleep 6
AFTER=$(rss)
HEAP_AFTER=$(heap)
HEAP_PER_DEVICE=n/a
[ -n "$HEAP_BEFORE" ] && [ -n "$HEAP_AFTER" ] && HEAP_PER_DEVICE=$(( (HEAP_AFTER - HEAP_BEFORE) / N ))
echo "$MODE: connected=$(connected) server_rss_kib before=$BEFORE after=$AFTER per_device_bytes=$(( (AFTER - BEFORE) * 1024 / N )) heap_per_device_bytes=$HEAP_PER_DEVICE"
kill "$SIM"; wait "$SIM" 2>/dev/null || true
