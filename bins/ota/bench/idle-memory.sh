#!/usr/bin/env bash
# Server memory per idle connected device: ours over plain MQTT and over MQTT over TLS, and
# Mosquitto holding the same clients with the same subscriptions, in one run.
#
#   cargo build --release -p ota
#   bins/ota/bench/idle-memory.sh                 # MODES="plain tls mosquitto", N=5000
#   MODES=plain N=10000 bins/ota/bench/idle-memory.sh
#
# Registers N devices once on a throwaway server, then for each mode starts a fresh server
# (ours on a copy of that data directory, or Mosquitto with anonymous access), connects the
# N devices with `ota sim --keep-running` (over TLS with a throwaway CA made by openssl) and
# prints the server's RSS before and after all N are connected and subscribed, and the
# difference per device. Ours also reports `heap_per_device_bytes`: the growth of the bytes
# its allocator has handed out (`ota_heap_allocated_bytes`), which RSS can hide when pages
# freed earlier are reused. Each mode has its own fresh process, so memory freed by one run
# cannot hide what the next needs. Loopback ports 18080, 18830, 18883 and 18832.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/../../.." && pwd)/target/release/ota}
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
N=${N:-5000}
MODES=${MODES:-${MODE:-plain tls mosquitto}}
SETTLE=${SETTLE:-20}
WORK=$(mktemp -d)
SERVER=
SIM=
cleanup() {
  [ -n "$SIM" ] && kill "$SIM" 2>/dev/null && wait "$SIM" 2>/dev/null
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
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

start_ota() { # data directory
  "$BIN" serve --data-dir "$1" --http-addr 127.0.0.1:18080 --mqtt-addr 127.0.0.1:18830 \
    --mqtt-tls-addr 127.0.0.1:18883 --tls-cert-file chain.pem --tls-key-file server.key \
    > serve.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do grep -q '"event":"ready"' serve.log && break; sleep 0.1; done
  grep -q '"event":"ready"' serve.log || { cat serve.log >&2; exit 1; }
}
stop_server() {
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
metric() { curl -s http://127.0.0.1:18080/metrics | awk -v m="$1" '$1 == m {printf "%d", $2}'; }
established() { ss -Htn state established "( sport = :$1 )" | wc -l; }

# The fleet, registered once; each of our runs starts on a copy of this data directory.
start_ota registered
PK=$("$BIN" product create IdleMemory | python3 -c 'import sys, json; print(json.load(sys.stdin)["product_key"])')
"$BIN" device register "$PK" --count "$N" --csv fleet.csv > /dev/null
stop_server

for MODE in $MODES; do
  case "$MODE" in
    plain) ARGS=(--mqtt 127.0.0.1:18830) ;;
    tls) ARGS=(--mqtt 127.0.0.1:18883 --tls-ca ca.pem) ;;
    mosquitto) ARGS=(--mqtt 127.0.0.1:18832) ;;
    *) echo "MODES holds plain, tls or mosquitto, not $MODE" >&2; exit 2 ;;
  esac
  if [ "$MODE" = mosquitto ]; then
    printf "listener 18832 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n" \
      > mosquitto.conf
    "$MOSQUITTO" -c mosquitto.conf > mosquitto.log 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do ss -Htln "( sport = :18832 )" | grep -q . && break; sleep 0.1; done
    connected() { established 18832; }
    heap() { :; }
  else
    rm -rf data && cp -r registered data
    start_ota data
    connected() { metric ota_devices_connected; }
    # Refreshed every 5 s (jemalloc builds).
    heap() { metric ota_heap_allocated_bytes; }
  fi
  sleep 6
  BEFORE=$(rss)
  HEAP_BEFORE=$(heap)
  "$BIN" sim --credentials fleet.csv --keep-running --duration 120 --connect-concurrency 256 \
    --json "${ARGS[@]}" > sim.log 2>&1 &
  SIM=$!
  for _ in $(seq 1 600); do
    COUNT=$(connected)
    [ "${COUNT:-0}" -ge "$N" ] && break
    sleep 0.2
  done
  # Subscriptions and version reports follow the CONNECT; the heap gauge refreshes in 5 s,
  # and the allocator returns the pages of what connecting freed within about 10 s.
  sleep "$SETTLE"
  AFTER=$(rss)
  HEAP_AFTER=$(heap)
  HEAP_PER_DEVICE=n/a
  [ -n "$HEAP_BEFORE" ] && [ -n "$HEAP_AFTER" ] && HEAP_PER_DEVICE=$(( (HEAP_AFTER - HEAP_BEFORE) / N ))
  echo "$MODE: connected=$(connected) server_rss_kib before=$BEFORE after=$AFTER per_device_bytes=$(( (AFTER - BEFORE) * 1024 / N )) heap_per_device_bytes=$HEAP_PER_DEVICE"
  kill "$SIM"; wait "$SIM" 2>/dev/null || true
  SIM=
  stop_server
done
