"""Claim 2: POST of a tracked job through the real web stack vs Falcon hello-world and a bare send() endpoint.

All three under the same gunicorn settings (-w 2 -k gevent), same Redis, same run. Saturation with
`wrk -t2 -c50 -d10s`; latency at half of our saturation rate with a paced (wrk2-style) generator.
Prints: BENCH api hello_rps=.. bare_send_rps=.. ours_rps=.. ours_vs_bare_send=.. half_rate=.. half_p50_ms=..
half_p99_ms=..   (goals: ours_vs_bare_send >= 0.80, half_p99_ms < 30)
BENCH_API_RATES=350,500 (optional): the paced latency of ours at these fixed rates too (`p99_ms_at_350=..`), to
show where the tail starts on this machine.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import REDIS_URL, BenchEnv, result_line  # noqa: E402


def main() -> None:
    duration = int(os.environ.get("BENCH_SECONDS", 10))
    bench = BenchEnv("api")
    from bench.support.web import paced, serve_baseline, serve_ours, stop, wait_http, wrk
    from tests.support.processes import free_port

    _business, key = bench.make_business()
    auth = f"Bearer {key}"
    raw_env = {"BENCH_RAW_REDIS_URL": REDIS_URL, "BENCH_RAW_NAMESPACE": bench.namespace + "-raw"}
    results = {}
    for name, app, path in (("hello", "hello", "/hello"), ("bare_send", "bare_send", "/send")):
        port = free_port()
        server = serve_baseline(app, port, bench.tmp, raw_env)
        try:
            url = f"http://127.0.0.1:{port}{path}"
            wait_http(url, "POST")
            wrk(url, duration=2)  # warm-up
            results[name] = wrk(url, duration=duration)
        finally:
            stop(server)
    port = free_port()
    server = serve_ours(port, bench.tmp, bench.env)
    try:
        url = f"http://127.0.0.1:{port}/api/diagnostics/ping"
        wait_http(f"http://127.0.0.1:{port}/readyz")
        wrk(url, duration=2, auth=auth)
        ours = results["ours"] = wrk(url, duration=duration, auth=auth)
        half_rate = round(ours["rps"] / 2)
        half = paced(url, half_rate, duration, auth=auth)
        at_rates = {}
        for rate in [int(r) for r in os.environ.get("BENCH_API_RATES", "").split(",") if r.strip()]:
            fixed = paced(url, rate, duration, auth=auth)
            at_rates.update({f"p50_ms_at_{rate}": fixed["p50_ms"], f"p99_ms_at_{rate}": fixed["p99_ms"]})
    finally:
        stop(server)
    for name, found in results.items():
        if found["non_2xx"] or found["socket_errors"]:
            print(f"bench: {name} had non-2xx={found['non_2xx']} {found['socket_errors']}", file=sys.stderr)
    ok = sum(v for k, v in half["statuses"].items() if k == "202")
    result_line("api", hello_rps=round(results["hello"]["rps"]), bare_send_rps=round(results["bare_send"]["rps"]),
                ours_rps=round(ours["rps"]), ours_vs_bare_send=round(ours["rps"] / results["bare_send"]["rps"], 2),
                ours_vs_hello=round(ours["rps"] / results["hello"]["rps"], 2),
                sat_p50_ms=round(ours["p50_ms"], 1), sat_p99_ms=round(ours["p99_ms"], 1),
                ours_non_2xx=ours["non_2xx"], half_rate=half_rate, half_achieved=half["rate_achieved"],
                half_p50_ms=half["p50_ms"], half_p99_ms=half["p99_ms"], half_202=ok, half_sent=half["sent"],
                half_other=";".join(f"{k}:{v}" for k, v in half["statuses"].items() if k != "202") or "none",
                **at_rates, goals="ours_vs_bare_send>=0.80,half_p99_ms<30")


if __name__ == "__main__":
    main()
