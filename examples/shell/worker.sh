#!/bin/sh
# A presque worker in sh and curl: one leased job at a time, acknowledged when `work` succeeds,
# failed (retried later) when it does not. Usage: PRESQUE_URL=http://127.0.0.1:5000 worker.sh <queue>
url=${PRESQUE_URL:-http://127.0.0.1:5000} queue=${1:-default} me="$(hostname):$$:sh"
headers=$(mktemp)

work() { # the job's JSON on stdin: replace with yours
  grep -q '"fail"' && return 1
  echo "done $id"
}

curl -fsS -H "X-presque-workerid: $me" -X POST "$url/w/$queue" >/dev/null
trap 'curl -fsS -H "X-presque-workerid: $me" -X DELETE "$url/w/$queue"; rm -f "$headers"; exit 0' INT TERM
while :; do
  job=$(curl -sS -D "$headers" -H "X-presque-workerid: $me" "$url/q/$queue?lease=30&wait=${WAIT:-20}") || { sleep 1; continue; }
  id=$(sed -n 's/^x-presque-jobid: *\([0-9]*\).*/\1/p' "$headers")
  attempt=$(sed -n 's/^x-presque-attempt: *\([0-9]*\).*/\1/p' "$headers")
  [ -n "$id" ] || continue # no job came within the wait
  if printf '%s' "$job" | work; then
    curl -fsS -X DELETE -H "X-presque-attempt: $attempt" "$url/q/$queue/$id"
  else
    curl -fsS -X PUT -H "X-presque-attempt: $attempt" -H 'Content-Type: application/json' \
      -d '{"error":"work failed"}' "$url/q/$queue/$id" >/dev/null
  fi
done
