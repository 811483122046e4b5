#!/usr/bin/env python3
"""The raft cluster's client (tests/cluster.rs): writes one new KV v2 secret every 20 ms through
whichever node takes it, and records each acknowledged write; when told to stop, reads every
acknowledged write back and says which were lost.

    cluster_client.py TOKEN ACKS STOP PORT...

Runs inside the cluster's network namespace and talks to 127.0.0.1:PORT only. A write is
acknowledged when a node answers 2xx; a refused or failed write goes to the next node (a standby
forwards to the active node, or answers with a redirect, which is followed). ACKS gets one line
per acknowledged write, `N WALL_TIME`, flushed at once; the last line on stdout is the JSON
verdict: {"acknowledged": N, "lost": [N...], "attempts": N}.
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

INTERVAL = 0.020
TIMEOUT = 2.0


def request(port, method, path, token, body=None, hops=3):
    """(status, parsed body or None); follows up to `hops` redirects to another 127.0.0.1 port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status in (307, 308) and hops > 0:
            location = urllib.parse.urlsplit(response.getheader("Location", ""))
            if location.hostname == "127.0.0.1" and location.port:
                return request(location.port, method, location.path, token, body, hops - 1)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return response.status, parsed
    finally:
        conn.close()


def main():
    token, acks_path, stop_path = sys.argv[1:4]
    ports = [int(p) for p in sys.argv[4:]]
    acknowledged, attempts, node = [], 0, 0
    with open(acks_path, "w") as acks:
        next_write = time.monotonic()
        while not os.path.exists(stop_path):
            n = attempts
            attempts += 1
            for _ in range(len(ports)):
                try:
                    status, _ = request(ports[node], "PUT", f"/v1/secret/data/k{n}", token, {"data": {"v": f"value-{n}"}})
                except OSError:
                    status = None
                if status is not None and 200 <= status < 300:
                    acknowledged.append(n)
                    acks.write(f"{n} {time.time():.6f}\n")
                    acks.flush()
                    break
                node = (node + 1) % len(ports)
            next_write += INTERVAL
            time.sleep(max(0.0, next_write - time.monotonic()))
            next_write = max(next_write, time.monotonic() - INTERVAL)
    # The read-back: each acknowledged key from whichever node answers.
    lost = []
    for n in acknowledged:
        value = None
        for attempt in range(3 * len(ports)):
            try:
                status, body = request(ports[(node + attempt) % len(ports)], "GET", f"/v1/secret/data/k{n}", token)
            except OSError:
                continue
            if status == 200:
                value = body["data"]["data"].get("v")
                break
            if status == 404:
                break
        if value != f"value-{n}":
            lost.append(n)
    print(json.dumps({"acknowledged": len(acknowledged), "lost": lost, "attempts": attempts}))


if __name__ == "__main__":
    main()
