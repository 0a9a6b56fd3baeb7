#!/usr/bin/env python3
"""A presque worker in Python's standard library only.

    PRESQUE_URL=http://127.0.0.1:5000 python3 examples/python/worker.py <queue>

Registers, long-polls a leased batch, works each job, acknowledges or fails the batch in one
request each, and unregisters on Ctrl-C or SIGTERM. A job left unfinished comes back when its
lease ends, so the work must be safe to repeat.
"""
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

URL = os.environ.get("PRESQUE_URL", "http://127.0.0.1:5000").rstrip("/")
QUEUE = sys.argv[1] if len(sys.argv) > 1 else "default"
WORKER = f"{socket.gethostname()}:{os.getpid()}:python"
LEASE, WAIT, BATCH = 30, int(os.environ.get("WAIT", "20")), 10


def work(job_id, job):
    """The job itself: replace with yours. An exception fails the job (it is retried later)."""
    if job.get("fail"):
        raise RuntimeError("asked to fail")
    print(f"done {job_id}", flush=True)


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method, headers={
        "Content-Type": "application/json", "X-presque-workerid": WORKER, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=WAIT + 10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def settle(kind, jobs):
    """POST /qb/<queue>/ack or /fail; one call per job on a presque without the batch routes."""
    status, _, body = call("POST", f"/qb/{QUEUE}/{kind}", {"jobs": jobs})
    if status == 404 and json.loads(body).get("error") == "not found":
        for job in jobs:
            attempt = {"X-presque-attempt": str(job["attempt"])}
            if kind == "ack":
                call("DELETE", f"/q/{QUEUE}/{job['id']}", headers=attempt)
            else:
                call("PUT", f"/q/{QUEUE}/{job['id']}", {"error": job["error"]}, attempt)


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    call("POST", f"/w/{QUEUE}")
    try:
        while True:
            try:
                status, headers, body = call("GET", f"/qb/{QUEUE}?batch_size={BATCH}&lease={LEASE}&wait={WAIT}")
            except urllib.error.URLError as err:
                print(f"presque unreachable: {err.reason}", file=sys.stderr)
                time.sleep(1)
                continue
            if status == 404:
                if json.loads(body).get("error") != "no job":
                    time.sleep(1)  # the queue is stopped
                continue
            if status != 200:
                time.sleep(1)
                continue
            ids = headers["X-presque-jobids"].split(",")
            attempts = headers["X-presque-attempts"].split(",")
            acks, fails = [], []
            for job_id, attempt, job in zip(ids, attempts, json.loads(body)):
                try:
                    work(job_id, job)
                    acks.append({"id": job_id, "attempt": int(attempt)})
                except Exception as err:  # noqa: BLE001 - any failure of the job fails the job
                    print(f"failed {job_id}: {err}", file=sys.stderr, flush=True)
                    fails.append({"id": job_id, "attempt": int(attempt), "error": str(err) or type(err).__name__})
            if acks:
                settle("ack", acks)
            if fails:
                settle("fail", fails)
    except KeyboardInterrupt:
        pass
    finally:
        call("DELETE", f"/w/{QUEUE}")


if __name__ == "__main__":
    main()
