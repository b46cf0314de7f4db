"""The HTTP service under load, on loopback only: requests per second and p50/p99 latency of
`POST /v1/check` with and without the explanation, at 1, 8 and 32 concurrent clients.

Starts `incentives serve` on a free loopback port (one worker unless --workers), then for each
level sends requests on keep-alive connections from one asyncio process until --requests have
been answered or --seconds have passed, whichever comes first, and stops the server. The
profile is examples/jinzhong-hightech.yaml (every policy of the bundled library is evaluated,
with the "what it would take" analysis). The client shares the machine's cores with the server:
the figures are a floor for the service, and they move with whatever else the machine is doing
(the load average is printed before and after).

    .venv/bin/python benchmarks/bench_serve.py [--requests 2000] [--seconds 20] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = (ROOT / "examples" / "jinzhong-hightech.yaml").read_bytes()
LEVELS = (1, 8, 32)
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start(port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "incentives", "serve", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the service did not start")


def request(path: str) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/yaml\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n")  # fmt: skip
    return head.encode() + BODY


async def client(
    port: int, payload: bytes, stop: float, budget: list[int], latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while budget[0] > 0 and time.perf_counter() < stop:
            budget[0] -= 1
            began = time.perf_counter()
            writer.write(payload)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"unexpected answer: {status!r}")
            latencies.append(time.perf_counter() - began)
    finally:
        writer.close()


async def level(
    port: int, path: str, clients: int, requests: int, seconds: float
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    budget = [requests]
    began = time.perf_counter()
    stop = began + seconds
    payload = request(path)
    await asyncio.gather(*(client(port, payload, stop, budget, latencies) for _ in range(clients)))
    return time.perf_counter() - began, latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per measurement, at most"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="seconds per measurement, at most"
    )
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores"
    )
    server = start(port, args.workers)
    try:
        asyncio.run(level(port, "/v1/check?as_of=2026-11-24", 4, 50, 10))  # warm up
        print(f"workers={args.workers}, profile {len(BODY)} bytes, 40 policies each request")
        print(
            f"{'explain':>7} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        )
        for explain in (False, True):
            path = f"/v1/check?as_of=2026-11-24&explain={'true' if explain else 'false'}"
            for clients in LEVELS:
                elapsed, latencies = asyncio.run(
                    level(port, path, clients, args.requests, args.seconds)
                )
                cuts = statistics.quantiles(latencies, n=100)
                print(f"{explain!s:>7} {clients:>7} {len(latencies):>8} {len(latencies) / elapsed:>8.1f} "
                      f"{cuts[49] * 1000:>8.1f} {cuts[98] * 1000:>8.1f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
