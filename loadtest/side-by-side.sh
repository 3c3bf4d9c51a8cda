#!/bin/bash
# Side-by-side CPU comparison of two Fulcrum trees (e.g. before/after a change): both run at
# once (1 worker each, the same backend, the same Node), each loaded by its own wrk -t1 -c20 (SBS_CONNECTIONS=N for another count) at
# the same time; CPU of each node's process tree from /proc. The machine's other load hits both
# alike, which single bench runs on a shared machine cannot promise.
#   loadtest/side-by-side.sh TREE_A TREE_B [NODE_BIN] [rounds] [keepalive|close|https|h2]
# TREE_B may be the word haproxy: HAProxy (1 thread, the bench's own config) in B's place, to
# compare latency with it under the same load rather than minutes apart.
# Both trees built (npx tsc -b); prints each round's µs per request and, for wrk's modes, each
# side's p50/p99 latency (wrk --latency) — both under the same machine load, which bench runs
# minutes apart are not. SBS_NODE_ARGS: Node flags for both nodes and their workers (e.g.
# --trace-gc; the logs stay in SBS_KEEP=DIR when set).
A=$1; B=$2; NODE=${3:-node}; R=${4:-4}; MODE=${5:-keepalive}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
BPORT=19080
$NODE $HERE/dist/src/backend-server.js $BPORT 100 >/dev/null 2>&1 & BE=$!
start() { # tree port admin name
  local d=$W/$4; mkdir -p $d
  # The bench's own config for a Fulcrum target (loadtest/src/targets.ts), not a copy of it.
  "$NODE" --input-type=module -e "const m = await import('$HERE/dist/src/targets.js'); process.stdout.write(m.fulcrumConfig($2, $BPORT));" > $d/c.yaml
  $NODE $SBS_NODE_ARGS $1/services/lb-node/bin/fulcrum.js start --config $d/c.yaml --data-dir $d/data --admin-port $3 --listen-host 127.0.0.1 --workers 1 > $d/log 2>&1 &
  echo $!
}
TLS=""; [ "$MODE" = https ] || [ "$MODE" = h2 ] && TLS=1
start_haproxy() { # port tlsport
  local d=$W/b; mkdir -p $d
  "$NODE" --input-type=module -e "const m = await import('$HERE/dist/src/targets.js'); process.stdout.write(m.haproxyConfig($1, $BPORT, '$TLS' ? { port: $2, pem: '$W/bench-combined.pem' } : undefined));" > $d/haproxy.cfg
  haproxy -db -f $d/haproxy.cfg > $d/log 2>&1 &
  echo $!
}
[ -n "$TLS" ] && { "$NODE" --input-type=module -e "const m = await import('$HERE/dist/src/targets.js'); m.makeCert('$W');" || exit 1; }
PA=$(start $A 19181 19191 a)
if [ "$B" = haproxy ]; then PB=$(start_haproxy 19182 19184); else PB=$(start $B 19182 19192 b); fi
for p in 19181 19182; do for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:$p/ && break; sleep 0.2; done; done
URLA=http://127.0.0.1:19181/; URLB=http://127.0.0.1:19182/
if [ -n "$TLS" ]; then
  "$NODE" --input-type=module -e "const m = await import('$HERE/dist/src/targets.js'); const c = { certFile: '$W/bench-cert.pem', keyFile: '$W/bench-key.pem', pemFile: '$W/bench-combined.pem' }; await m.addFulcrumTlsListener('http://127.0.0.1:19191', 19183, c); if ('$B' !== 'haproxy') await m.addFulcrumTlsListener('http://127.0.0.1:19192', 19184, c);" || exit 1
  URLA=https://127.0.0.1:19183/; URLB=https://127.0.0.1:19184/
  for u in $URLA $URLB; do for i in $(seq 1 100); do curl -sk -o /dev/null $u && break; sleep 0.2; done; done
fi
load() { # url out
  if [ "$MODE" = h2 ]; then h2load -c10 -m10 -t1 -D 8 $1 > $2 2>&1; else wrk -t1 -c${SBS_CONNECTIONS:-20} -d8s --latency $H $1 > $2 2>&1; fi
}
count() { # out: completed requests
  if [ "$MODE" = h2 ]; then grep -oP 'requests: .* \K\d+(?= succeeded)' $1; else grep -oP '^\s+\K\d+(?= requests)' $1; fi
}
tree_ticks() { local t=0; for p in $1 $(cat /proc/$1/task/*/children 2>/dev/null); do s=$(cut -d' ' -f14,15 /proc/$p/stat 2>/dev/null); [ -n "$s" ] && t=$((t + ${s% *} + ${s#* })); done; echo $t; }
pct() { # out percentile: wrk's "99%  4.58ms" line in ms; Latency: the max of its "Latency" line
  awk -v p="$2%" '$1 == p || ($1 == "Latency" && $2 != "Distribution" && p == "Latency%") { v = $1 == "Latency" ? $4 : $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v); printf "%.2f", v * (u == "us" ? 0.001 : u == "s" ? 1000 : 1) }' $1
}
H=""; [ "$MODE" = close ] && H="-H Connection:close"
for r in $(seq 1 $R); do
  a0=$(tree_ticks $PA); b0=$(tree_ticks $PB)
  # The load started first gets an edge (same tree against itself: B ~2% higher in 7 of 8
  # rounds when A always went first); odd rounds start A's, even rounds B's.
  if [ $((r % 2)) = 1 ]; then
    load $URLA $W/wa.$r & WA=$!
    load $URLB $W/wb.$r & WB=$!
  else
    load $URLB $W/wb.$r & WB=$!
    load $URLA $W/wa.$r & WA=$!
  fi
  wait $WA $WB
  a1=$(tree_ticks $PA); b1=$(tree_ticks $PB)
  na=$(count $W/wa.$r); nb=$(count $W/wb.$r)
  lat=""; [ "$MODE" != h2 ] && lat="  p50/p99/max ms A $(pct $W/wa.$r 50)/$(pct $W/wa.$r 99)/$(pct $W/wa.$r Latency)  B $(pct $W/wb.$r 50)/$(pct $W/wb.$r 99)/$(pct $W/wb.$r Latency)"
  awk -v r=$r -v a=$((a1-a0)) -v b=$((b1-b0)) -v na=$na -v nb=$nb -v lat="$lat" 'BEGIN { printf "round %d: A %.1f us/req (%d req)  B %.1f us/req (%d req)%s\n", r, a*10000/na, na, b*10000/nb, nb, lat }'
done
kill $PA $PB $BE 2>/dev/null; sleep 1; pkill -f "$W/" 2>/dev/null
if [ -n "$SBS_KEEP" ]; then mkdir -p "$SBS_KEEP" && cp -r $W/a $W/b $W/w* "$SBS_KEEP"/; fi
rm -rf "$W"
