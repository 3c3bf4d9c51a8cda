#!/bin/bash
# Side-by-side CPU comparison of two Fulcrum trees (e.g. before/after a change): both run at
# once (1 worker each, the same backend, the same Node), each loaded by its own wrk -t1 -c20 (SBS_CONNECTIONS=N for another count) at
# the same time; CPU of each node's process tree from /proc. The machine's other load hits both
# alike, which single bench runs on a shared machine cannot promise.
#   loadtest/side-by-side.sh TREE_A TREE_B [NODE_BIN] [rounds] [keepalive|close]
# Both trees built (npx tsc -b); prints each round's µs per request.
A=$1; B=$2; NODE=${3:-node}; R=${4:-4}; MODE=${5:-keepalive}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
BPORT=19080
$NODE $HERE/dist/src/backend-server.js $BPORT 100 >/dev/null 2>&1 & BE=$!
start() { # tree port admin name
  local d=$W/$4; mkdir -p $d
  # The bench's own config for a Fulcrum target (loadtest/src/targets.ts), not a copy of it.
  "$NODE" --input-type=module -e "const m = await import('$HERE/dist/src/targets.js'); process.stdout.write(m.fulcrumConfig($2, $BPORT));" > $d/c.yaml
  $NODE $1/services/lb-node/bin/fulcrum.js start --config $d/c.yaml --data-dir $d/data --admin-port $3 --listen-host 127.0.0.1 --workers 1 > $d/log 2>&1 &
  echo $!
}
PA=$(start $A 19181 19191 a); PB=$(start $B 19182 19192 b)
for p in 19181 19182; do for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:$p/ && break; sleep 0.2; done; done
URLA=http://127.0.0.1:19181/; URLB=http://127.0.0.1:19182/
if [ "$MODE" = https ] || [ "$MODE" = h2 ]; then
  "$NODE" --input-type=module -e "const m = await import('$HERE/dist/src/targets.js'); const c = m.makeCert('$W'); await m.addFulcrumTlsListener('http://127.0.0.1:19191', 19183, c); await m.addFulcrumTlsListener('http://127.0.0.1:19192', 19184, c);" || exit 1
  URLA=https://127.0.0.1:19183/; URLB=https://127.0.0.1:19184/
  for u in $URLA $URLB; do for i in $(seq 1 100); do curl -sk -o /dev/null $u && break; sleep 0.2; done; done
fi
load() { # url out
  if [ "$MODE" = h2 ]; then h2load -c10 -m10 -t1 -D 8 $1 > $2 2>&1; else wrk -t1 -c${SBS_CONNECTIONS:-20} -d8s $H $1 > $2 2>&1; fi
}
count() { # out: completed requests
  if [ "$MODE" = h2 ]; then grep -oP 'requests: .* \K\d+(?= succeeded)' $1; else grep -oP '^\s+\K\d+(?= requests)' $1; fi
}
tree_ticks() { local t=0; for p in $1 $(cat /proc/$1/task/*/children 2>/dev/null); do s=$(cut -d' ' -f14,15 /proc/$p/stat 2>/dev/null); [ -n "$s" ] && t=$((t + ${s% *} + ${s#* })); done; echo $t; }
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
  awk -v r=$r -v a=$((a1-a0)) -v b=$((b1-b0)) -v na=$na -v nb=$nb 'BEGIN { printf "round %d: A %.1f us/req (%d req)  B %.1f us/req (%d req)\n", r, a*10000/na, na, b*10000/nb, nb }'
done
kill $PA $PB $BE 2>/dev/null; sleep 1; pkill -f "$W/" 2>/dev/null; rm -rf "$W"
