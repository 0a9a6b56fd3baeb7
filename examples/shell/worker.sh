#!/bin/sh
# A presque worker in sh and curl: one leased job at a time, acknowledged when `work` succeeds,
# failed (retried later) when it does not. Usage: PRESQUE_URL=http://127.0.0.1:5000 worker.sh <queue>
url=${PRESQUE_URL:-http://127.0.0.1:5000} queue=${1:-default} me="$(hostname):$$:sh"
headers=$(mktemp) body=$(mktemp) poll=

work() { # the job's JSON on stdin: replace with yours
  grep -q '"fail"' && return 1
  echo "done $id"
}

# The long poll runs in the background and the shell waits for it: a trapped signal interrupts
# `wait` at once, where it would wait for a foreground curl to end (up to WAIT seconds).
stop() {
  [ -n "$poll" ] && kill "$poll" 2>/dev/null
  curl -fsS -H "X-presque-workerid: $me" -X DELETE "$url/w/$queue"
  rm -f "$headers" "$body"
  exit 0
}
curl -fsS -H "X-presque-workerid: $me" -X POST "$url/w/$queue" >/dev/null
trap stop INT TERM
while :; do
  curl -sS -o "$body" -D "$headers" -H "X-presque-workerid: $me" "$url/q/$queue?lease=30&wait=${WAIT:-20}" &
  poll=$!
  wait "$poll" || { poll=; sleep 1; continue; }
  poll=
  id=$(sed -n 's/^x-presque-jobid: *\([0-9]*\).*/\1/p' "$headers")
  attempt=$(sed -n 's/^x-presque-attempt: *\([0-9]*\).*/\1/p' "$headers")
  [ -n "$id" ] || continue # no job came within the wait
  if work <"$body"; then
    curl -fsS -X DELETE -H "X-presque-attempt: $attempt" "$url/q/$queue/$id"
  else
    echo "failed $id" >&2
    curl -fsS -X PUT -H "X-presque-attempt: $attempt" -H 'Content-Type: application/json' \
      -d '{"error":"work failed"}' "$url/q/$queue/$id" >/dev/null
  fi
done
