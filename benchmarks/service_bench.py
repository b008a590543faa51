"""Load test of ``civicscore serve`` on loopback: p50/p99 latency and requests/s.

What it does, bounded (a fixed number of requests per level, and a time cap):

1. starts ``civicscore serve --policy-root policies`` as a subprocess on a free
   loopback port, and beside it a **minimal FastAPI echo endpoint** on the same
   uvicorn settings (the floor: what HTTP, uvicorn, FastAPI and httpx cost with
   no civicscore in them);
2. drives ``decide``, ``explain`` and ``batch`` (the 21 households of
   examples/visits-households.csv as one CSV upload) of the example policy's
   ``visits`` scheme at 1, 8 and 32 concurrent async httpx clients;
3. computes the **same requests in-process** (the app called through httpx's
   ASGI transport: the same code, no socket, no uvicorn, one at a time), which
   is both the baseline of the decision's own cost and the expected answer:
   every served answer is compared with it (no request may be lost or answered
   wrongly; the run fails loudly if one is);
4. prints one table: p50 and p99 latency, requests/s, and the ratios served /
   in-process and served / echo, side by side; ``--markdown FILE`` also writes
   the table as a section for benchmarks/RESULTS.md.

It is a benchmark, not a test: nothing in the test suite is timed.

    python benchmarks/service_bench.py                  # default: 200 decide requests per level
    python benchmarks/service_bench.py --requests 40    # a quick look
    python benchmarks/service_bench.py --markdown /tmp/service.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request  # at module level: FastAPI resolves the echo's annotation here

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "benchmarks") not in sys.path:  # the sibling module, also when loaded by path
    sys.path.insert(0, str(ROOT / "benchmarks"))
from results_file import write_section  # noqa: E402

POLICIES = ROOT / "policies"
HOUSEHOLDS = ROOT / "examples" / "visits-households.csv"
POLICY, SCHEME, AS_OF = "example-district", "visits", "2025-12-31"
LEVELS = (1, 8, 32)


# --- the echo baseline: run as `service_bench.py --echo-server PORT` ------------------------


def echo_app() -> Any:
    """The least a FastAPI JSON endpoint can do: read the body, parse it, send it back."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/echo")
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(json.loads(await request.body()))

    return app


def run_echo_server(port: int) -> None:
    import uvicorn

    # the settings of `civicscore serve` (service/command.py), without its access log
    uvicorn.run(echo_app(), host="127.0.0.1", port=port, log_level="warning",
                timeout_keep_alive=5, server_header=False)


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, *[a.replace("{port}", str(port)) for a in args]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the server exited: {err[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{base} did not come up")


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.stderr.read().decode(errors="replace") if proc.stderr else ""


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request: where, what, and the answer it must get (None: any 200)."""

    path: str
    body: bytes
    media: str
    expected: Any = None


def households() -> list[dict[str, Any]]:
    from civicscore.io import read_records

    return [dict(r) for r in read_records(HOUSEHOLDS)]


def calls(endpoint: str) -> list[Call]:
    base = f"/v1/policies/{POLICY}/{SCHEME}"
    if endpoint == "batch":
        return [Call(f"{base}/batch?as_of={AS_OF}", HOUSEHOLDS.read_bytes(), "text/csv")]
    return [Call(f"{base}/{endpoint}", json.dumps({"record": r, "as_of": AS_OF},
                                                  default=str).encode(), "application/json")
            for r in households()]


def essence(endpoint: str, answer: Any) -> Any:
    """What must be the same whoever computed it (the summary quotes no time)."""
    if endpoint == "echo":
        return answer
    keep = ("explanation",) if endpoint == "explain" else ("rows", "rejected", "summary",
                                                          "explanation")
    return {k: answer.get(k) for k in keep}


async def in_process(endpoint: str, plan: list[Call], n: int) -> tuple[list[float], list[Call]]:
    """The same requests through the ASGI app in this process, one at a time: the
    decision's own cost, and the answers the served ones must equal."""
    from civicscore.service import create_app

    app = create_app([POLICIES])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as client:
        expected = []
        for call in plan:  # warm up, and learn the right answers
            r = await client.post(call.path, content=call.body,
                                  headers={"Content-Type": call.media})
            if r.status_code != 200:
                raise SystemExit(f"in-process {endpoint}: {r.status_code} {r.text[:500]}")
            expected.append(Call(call.path, call.body, call.media, essence(endpoint, r.json())))
        times = []
        for i in range(n):
            call = plan[i % len(plan)]
            t0 = time.perf_counter()
            r = await client.post(call.path, content=call.body,
                                  headers={"Content-Type": call.media})
            times.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"in-process {endpoint}: {r.status_code}")
    return times, expected


@dataclass
class Level:
    endpoint: str
    clients: int
    latencies: list[float]
    wall: float
    wrong: int
    failed: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


async def drive(base: str, endpoint: str, plan: list[Call], clients: int, n: int,
                cap: float) -> Level:
    """``n`` requests over ``clients`` concurrent connections (each its own client and
    keep-alive connection), stopping early at ``cap`` seconds."""
    latencies: list[float] = []
    wrong = failed = 0
    next_index = 0
    t_start = 0.0
    ready = asyncio.Event()
    connected = 0

    async def worker() -> None:
        nonlocal next_index, wrong, failed, connected, t_start
        async with httpx.AsyncClient(base_url=base, timeout=120,
                                     limits=httpx.Limits(max_connections=1)) as client:
            await client.get("/healthz")  # connect first: connecting is not what is timed
            connected += 1
            if connected == clients:
                t_start = time.perf_counter()
                ready.set()
            await ready.wait()
            while next_index < n and time.perf_counter() - t_start < cap:
                call = plan[next_index % len(plan)]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post(call.path, content=call.body,
                                          headers={"Content-Type": call.media})
                except httpx.HTTPError:
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    failed += 1
                elif call.expected is not None and essence(endpoint, r.json()) != call.expected:
                    wrong += 1

    await asyncio.gather(*(worker() for _ in range(clients)))
    return Level(endpoint, clients, latencies, time.perf_counter() - t_start, wrong, failed)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1] * 1000


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200,
                        help="decide/explain/echo requests per concurrency level (batch: a "
                             "quarter as many); default 200")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="stop a level after this long (default 60)")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown here")
    parser.add_argument("--echo-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server is not None:
        run_echo_server(args.echo_server)
        return
    import civicscore

    n_of = {"decide": args.requests, "explain": args.requests,
            "batch": max(args.requests // 4, 8), "echo": args.requests}
    plans: dict[str, list[Call]] = {}
    base_times: dict[str, list[float]] = {}
    for endpoint in ("decide", "explain", "batch"):
        base_times[endpoint], plans[endpoint] = asyncio.run(
            in_process(endpoint, calls(endpoint), n_of[endpoint]))
    # the echo gets the decide bodies, and must send each back unchanged
    plans["echo"] = [Call("/echo", c.body, c.media, json.loads(c.body)) for c in plans["decide"]]

    served, service = start(["-m", "civicscore", "serve", "--port", "{port}",
                             "--policy-root", str(POLICIES)])
    echo, echo_base = start([__file__, "--echo-server", "{port}"])
    results: list[Level] = []
    try:
        for endpoint in ("echo", "decide", "explain", "batch"):
            base = echo_base if endpoint == "echo" else service
            # warm the server's caches (policy load) before anything is timed
            asyncio.run(drive(base, endpoint, plans[endpoint], 1, len(plans[endpoint]), 60))
            for clients in LEVELS:
                # at least two requests per client, so that every client is measured
                n = max(n_of[endpoint], 2 * clients)
                results.append(asyncio.run(drive(base, endpoint, plans[endpoint], clients,
                                                 n, args.max_seconds)))
    finally:
        log = stop(served)
        stop(echo)
    if "Traceback" in log:
        raise SystemExit(f"the service logged a traceback:\n{log[-3000:]}")

    echo_p50 = {r.clients: pct(r.latencies, 50) for r in results if r.endpoint == "echo"}
    lines = [
        "### HTTP service: `civicscore serve` under load on loopback",
        "",
        f"civicscore {civicscore.__version__}, policy {POLICY} / {SCHEME}, as of {AS_OF}; "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.platform()}  ",
        "command: `python benchmarks/service_bench.py"
        + (f" --requests {args.requests}" if args.requests != 200 else "") + "`",
        "",
        "| endpoint | clients | requests | p50 | p99 | requests/s | in-process p50 | "
        "served / in-process | echo p50 | served / echo | wrong or lost |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p50, p99 = pct(r.latencies, 50), pct(r.latencies, 99)
        inproc = (statistics.median(base_times[r.endpoint]) * 1000
                  if r.endpoint in base_times else None)
        lines.append(
            f"| {r.endpoint} | {r.clients} | {len(r.latencies)} | {p50:.1f} ms | {p99:.1f} ms "
            f"| {r.rps:.0f} | "
            + (f"{inproc:.1f} ms | {p50 / inproc:.2f}× | " if inproc else "- | - | ")
            + (f"{echo_p50[r.clients]:.1f} ms | {p50 / echo_p50[r.clients]:.1f}× | "
               if r.endpoint != "echo" else "- | - | ")
            + f"{r.wrong + r.failed} |")
    lines += [
        "",
        "* each client is its own httpx.AsyncClient with one keep-alive connection; all "
        "clients run in one asyncio loop in the benchmark's process, the server in another "
        "process (one uvicorn worker), so both share the machine's cores",
        "* in-process: the same requests through the app via httpx's ASGI transport, one at "
        "a time (no socket, no uvicorn): the decision's own cost; its answers are the "
        "expected ones, and every served answer is compared with them",
        "* echo: a minimal FastAPI endpoint on the same uvicorn settings that parses the "
        "decide body and sends it back: the floor of HTTP + uvicorn + FastAPI + httpx",
        f"* batch: the {len(households())} households of examples/visits-households.csv as one "
        "CSV upload per request",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        write_section(args.markdown, "service_bench.py", text)
    bad = sum(r.wrong + r.failed for r in results)
    if bad:
        raise SystemExit(f"{bad} requests were lost or answered wrongly")


if __name__ == "__main__":
    main()
