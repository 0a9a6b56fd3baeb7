#!/usr/bin/env python3
"""A streaming presque worker in Python: jobs pushed over a WebSocket (docs/streaming.md).

    PRESQUE_URL=http://127.0.0.1:5000 python3 examples/python/stream_worker.py <queue>

Needs the websockets package (Debian: apt-get install python3-websockets; else pip install
websockets). Registers, opens GET /c/<queue> with a credit of CREDIT jobs, works each batch the
server pushes, acknowledges or fails it in one message and asks for as many more, and on Ctrl-C or
SIGTERM stops taking jobs, waits for its acknowledgements to be answered and closes: the server
hands back whatever it still held. Jobs are leased: one left unfinished (a crash) is ready again
as soon as the socket closes, so the work must be safe to repeat.
"""
import asyncio
import json
import os
import signal
import socket
import sys
import urllib.request

from websockets.exceptions import ConnectionClosed

try:  # websockets 13 and later
    from websockets.asyncio.client import connect

    HEADERS = "additional_headers"
except ImportError:  # Debian 12's websockets 10
    from websockets import connect

    HEADERS = "extra_headers"

URL = os.environ.get("PRESQUE_URL", "http://127.0.0.1:5000").rstrip("/")
QUEUE = sys.argv[1] if len(sys.argv) > 1 else "default"
WORKER = f"{socket.gethostname()}:{os.getpid()}:python-stream"
LEASE, CREDIT = 30, int(os.environ.get("CREDIT", "100"))
TOKEN = os.environ.get("PRESQUE_TOKEN")


def work(job_id, job):
    """The job itself: replace with yours. An exception fails the job (it is retried later)."""
    if job.get("fail"):
        raise RuntimeError("asked to fail")
    print(f"done {job_id}", flush=True)


def call(method, path):
    """POST or DELETE /w/<queue>: registration, for the statistics."""
    headers = {"X-presque-workerid": WORKER, **({"Authorization": f"Bearer {TOKEN}"} if TOKEN else {})}
    request = urllib.request.Request(URL + path, data=b"" if method == "POST" else None, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10):
        pass


async def consume(stop):
    headers = {"X-presque-workerid": WORKER, **({"Authorization": f"Bearer {TOKEN}"} if TOKEN else {})}
    uri = URL.replace("http", "ws", 1) + f"/c/{QUEUE}?lease={LEASE}"
    async with connect(uri, **{HEADERS: headers}, max_size=None) as ws:
        await ws.send(json.dumps({"credit": CREDIT}))
        unanswered = set()  # refs of acks and fails not yet answered
        ref = 0
        stopping = asyncio.ensure_future(stop.wait())
        while True:
            receiving = asyncio.ensure_future(ws.recv())
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break
            message = json.loads(receiving.result())
            if "ref" in message:
                unanswered.discard(message["ref"])
                for result in message.get("ack", []) + message.get("fail", []):
                    if result["status"] >= 300:
                        print(f"presque refused {result}", file=sys.stderr)
                continue
            acks, fails = [], []
            for job in message.get("jobs", []):
                try:
                    work(job["id"], job["data"])
                    acks.append({"id": job["id"], "attempt": job["attempt"]})
                except Exception as err:  # noqa: BLE001 - any failure of the job fails the job
                    fails.append({"id": job["id"], "attempt": job["attempt"], "error": str(err)})
            for kind, jobs in (("ack", acks), ("fail", fails)):
                if jobs:
                    ref += 1
                    unanswered.add(ref)
                    await ws.send(json.dumps({kind: jobs, "ref": ref}))
            if acks or fails:
                await ws.send(json.dumps({"credit": len(acks) + len(fails)}))
        # stopping: no more jobs; the acknowledgements sent are waited for (5 s at most), then the
        # socket closes. Jobs that arrive meanwhile are not worked: the server hands them back.
        await ws.send(json.dumps({"cancel": True, "ref": "stop"}))
        cancelled = False
        deadline = asyncio.get_running_loop().time() + 5
        while not cancelled or unanswered:
            try:
                left = deadline - asyncio.get_running_loop().time()
                message = json.loads(await asyncio.wait_for(ws.recv(), max(0, left)))
            except (asyncio.TimeoutError, ConnectionClosed):
                break
            if message.get("ref") == "stop":
                cancelled = True
            elif "ref" in message:
                unanswered.discard(message["ref"])


def main():
    call("POST", f"/w/{QUEUE}")
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(consume(stop))
    finally:
        loop.close()
        call("DELETE", f"/w/{QUEUE}")


if __name__ == "__main__":
    main()
