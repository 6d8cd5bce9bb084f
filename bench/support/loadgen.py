"""A paced (open-loop, wrk2-style) HTTP load generator on gevent: fixed request rate, latency measured
from each request's scheduled time so a stalled server cannot hide its queueing (no coordinated omission).

python -m bench.support.loadgen --url http://127.0.0.1:8000/api/x --rate 200 --duration 10 \
    [--method POST --body '{}' --header 'Authorization: Bearer k'] -> one JSON line on stdout
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402


def percentile(values, pct):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def run(url: str, rate: float, duration: float, connections: int, method: str, body: str, headers: dict) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    total = int(rate * duration)
    start = time.perf_counter() + 0.2
    state = {"next": 0}
    latencies, statuses, bodies = [], {}, []

    def connection():
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def loop():
        conn = connection()
        while True:
            index = state["next"]
            if index >= total:
                break
            state["next"] += 1
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            for attempt in (1, 2):
                try:
                    conn.request(method, path, body=body.encode() if body else None, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = connection()
                    break
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                    # A kept-alive connection the server closed while idle: reconnect and send once more.
                    status, payload = type(exc).__name__, b""
                    conn.close()
                    conn = connection()
                except Exception as exc:  # refused, timeout: counted as what it is
                    status, payload = type(exc).__name__, b""
                    conn.close()
                    conn = connection()
                    break
            latencies.append(time.perf_counter() - scheduled)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status in (200, 201, 202) and len(bodies) < total:
                bodies.append(payload)
        conn.close()

    connections = max(2, min(connections, int(rate / 8) + 2))  # keep connections busy enough to stay alive
    gevent.joinall([gevent.spawn(loop) for _ in range(connections)])
    elapsed = time.perf_counter() - start
    return {"sent": total, "rate_target": rate, "rate_achieved": round(total / elapsed, 1),
            "statuses": statuses, "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p90_ms": round(percentile(latencies, 90) * 1000, 2), "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2),
            "job_ids": [json.loads(b).get("job_id") for b in bodies if b.startswith(b"{")][:100000]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    if args.body:
        headers.setdefault("Content-Type", "application/json")
    print(json.dumps(run(args.url, args.rate, args.duration, args.connections, args.method, args.body, headers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
