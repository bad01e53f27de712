"""Canary throughput: ``aiir canary run`` against promptfoo and a bare httpx2 loop, side by side.

    .venv/bin/python -m bench.canary [--prompts 500] [--concurrency 32] [--latency-ms 20] [--repeat 3]

One local OpenAI-compatible upstream (a bare ASGI app under uvicorn, in its own process) answers
every chat completion after ``--latency-ms``. Each contender is timed as a whole process, start to
exit, sending the same prompts at the same concurrency with one ``contains`` assertion each:

- aiir: ``python -m aiir canary run SUITE`` (suite loading, assertions, history, drift, report);
- promptfoo: ``promptfoo eval`` (npm package, installed once into a cache directory with
  ``npm install``; run offline: telemetry, update checks, sharing and its cache off, no database);
- the floor: a bare ``httpx2.AsyncClient`` loop in a fresh Python process that checks the same
  substring and does nothing else.

Goal: aiir at least 4x faster than promptfoo and within 1.3x of the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import yaml

from bench.common import Sample, compile_aiir, interleaved, medians

PROMPTFOO_VERSION = "0.121.5"  # the newest release that still runs on Node 20
MODEL = "bench-model"
ANSWER = "Sure. The answer is OK."
GOAL_PROMPTFOO = 4.0
GOAL_FLOOR = 1.3

UPSTREAM = """
import asyncio, json, sys
import uvicorn

LATENCY = float(sys.argv[2]) / 1000
REPLY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "__MODEL__",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "__ANSWER__"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(REPLY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await asyncio.sleep(LATENCY)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": REPLY})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            lifespan="off", access_log=False)
""".replace("__MODEL__", MODEL).replace("__ANSWER__", ANSWER)

FLOOR = """
import asyncio, json, sys
import httpx2

URL, COUNT, CONCURRENCY = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


async def main():
    limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    jobs = iter(range(COUNT))
    passed = 0
    async with httpx2.AsyncClient(limits=limits, timeout=30) as client:
        async def worker():
            nonlocal passed
            for n in jobs:
                body = {"model": "__MODEL__",
                        "messages": [{"role": "user", "content": f"Canary prompt {n}: say OK."}]}
                reply = await client.post(URL, json=body)
                if "OK" in reply.json()["choices"][0]["message"]["content"]:
                    passed += 1
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    print(f"{passed} passed")
    sys.exit(0 if passed == COUNT else 1)


asyncio.run(main())
""".replace("__MODEL__", MODEL)


def suite(url: str, prompts: int, concurrency: int) -> dict[str, Any]:
    return {
        "aiir": 1,
        "canary": "bench",
        "title": "Benchmark canaries",
        "gateways": {"upstream": {"profile": "http", "url": url}},
        "target": {"model": MODEL},
        "concurrency": concurrency,
        # drift is computed as in production, but a shared, busy machine is no latency incident
        "drift": {"latency_min_shift_ms": 10_000},
        "prompts": [
            {
                "id": f"p{n}",
                "prompt": f"Canary prompt {n}: say OK.",
                "assert": [{"type": "contains", "value": "OK"}],
            }
            for n in range(prompts)
        ],
    }


def promptfoo_config(url: str, prompts: int) -> dict[str, Any]:
    return {
        "description": "aiir canary benchmark",
        "providers": [{"id": f"openai:chat:{MODEL}", "config": {"apiBaseUrl": f"{url}/v1"}}],
        "prompts": ["{{prompt}}"],
        "tests": [
            {
                "vars": {"prompt": f"Canary prompt {n}: say OK."},
                "assert": [{"type": "contains", "value": "OK"}],
            }
            for n in range(prompts)
        ],
    }


def promptfoo_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAI_API_KEY": "sk-bench-dummy",
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
        "PROMPTFOO_CACHE_ENABLED": "false",
        "PROMPTFOO_CONFIG_DIR": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def install_promptfoo() -> tuple[Path | None, str]:
    """The promptfoo executable, installed once into the cache; or None and why not."""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed"
    cache = Path(os.environ.get("AIIR_CACHE_DIR") or Path.home() / ".cache" / "aiir")
    directory = cache / f"promptfoo-{PROMPTFOO_VERSION}"
    executable = directory / "node_modules" / ".bin" / "promptfoo"
    if executable.exists():
        return executable, f"promptfoo {PROMPTFOO_VERSION} (cached in {directory})"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "package.json").write_text('{"name": "aiir-bench-promptfoo", "private": true}\n')
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", f"promptfoo@{PROMPTFOO_VERSION}"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not executable.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return None, f"npm install promptfoo@{PROMPTFOO_VERSION} failed: {' / '.join(tail)}"
    return executable, f"promptfoo {PROMPTFOO_VERSION} (installed into {directory})"


def start_upstream(root: Path, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    from aiir.sandbox.transport import free_port

    script = root / "upstream.py"
    script.write_text(UPSTREAM)
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), str(port), str(latency_ms)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    with httpx2.Client(trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                client.post(f"{url}/v1/chat/completions", json={})
                return process, url
            except httpx2.TransportError:
                time.sleep(0.05)
    process.kill()
    raise SystemExit("the upstream did not start")


CRASHES: dict[str, int] = {}


def timed(command: list[str], env: dict[str, str], cwd: Path) -> Sample:
    """Wall-clock seconds of the whole process, and the CPU seconds it (and its children) used.

    A crashed run is counted and run again, once: promptfoo 0.121.5 died once here with a Node
    stream error (``writeAfterEnd`` in readable-stream), which says nothing about its speed.
    """
    for attempt in range(2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            command, env=env, cwd=cwd, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode == 0:
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return elapsed, cpu
        CRASHES[command[0]] = CRASHES.get(command[0], 0) + 1
        if attempt:
            output = (done.stdout + done.stderr)[-2000:]
            raise SystemExit(f"{command[0]} failed twice ({done.returncode}):\n{output}")
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    promptfoo, said = install_promptfoo()
    compile_aiir()
    print(f"contenders: aiir, {said if promptfoo else 'promptfoo UNAVAILABLE: ' + said}, floor")
    with tempfile.TemporaryDirectory(prefix="aiir-bench-canary-") as tmp:
        root = Path(tmp)
        upstream, url = start_upstream(root, args.latency_ms)
        try:
            results = run_all(root, url, args, promptfoo)
        finally:
            upstream.terminate()
            upstream.wait(timeout=10)
    report(results, args)


def run_all(
    root: Path, url: str, args: argparse.Namespace, promptfoo: Path | None
) -> dict[str, list[Sample]]:
    suite_file = root / "suite.yaml"
    suite_file.write_text(yaml.safe_dump(suite(url, args.prompts, args.concurrency)))
    config = root / "promptfooconfig.yaml"
    config.write_text(yaml.safe_dump(promptfoo_config(url, args.prompts), sort_keys=False))
    floor = root / "floor.py"
    floor.write_text(FLOOR)
    plain_env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1"}
    aiir = [sys.executable, "-m", "aiir", "canary", "run", str(suite_file)]
    aiir += ["--history-dir", str(root / "history")]
    contenders: dict[str, Callable[[], Sample]] = {
        "aiir": lambda: timed(aiir, plain_env, Path.cwd()),
        "floor": lambda: timed(
            [
                sys.executable,
                str(floor),
                f"{url}/v1/chat/completions",
                str(args.prompts),
                str(args.concurrency),
            ],
            plain_env,
            root,
        ),
    }
    if promptfoo is not None:
        command = [str(promptfoo), "eval", "-c", str(config), "-j", str(args.concurrency)]
        command += ["--no-write", "--no-cache", "--no-table", "--no-progress-bar"]
        home = root / "promptfoo-home"
        home.mkdir()
        contenders["promptfoo"] = lambda: timed(command, promptfoo_env(home), root)
    for work in contenders.values():  # warm the OS caches once; not counted
        work()
    return interleaved(contenders, args.repeat)


def report(results: dict[str, list[Sample]], args: argparse.Namespace) -> None:
    middle = {name: medians(runs) for name, runs in results.items()}
    wall = {name: seconds for name, (seconds, _) in middle.items()}
    cpu = {name: seconds for name, (_, seconds) in middle.items()}
    load = os.getloadavg()[0]
    print(
        f"{args.prompts} prompts, concurrency {args.concurrency}, upstream latency "
        f"{args.latency_ms:g} ms; median of {args.repeat} whole-process runs "
        f"({os.cpu_count()} cores, load average {load:.1f} at the end):"
    )
    for name, seconds in wall.items():
        runs = ", ".join(f"{t:.2f}" for t, _ in results[name])
        print(f"  {name:<10} {seconds:6.2f} s wall  {cpu[name]:6.2f} s CPU   (runs: {runs})")
    verdict: dict[str, float] = {}
    for kind, times in (("wall", wall), ("cpu", cpu)):
        verdict[f"aiir_vs_floor_{kind}"] = round(times["aiir"] / times["floor"], 2)
        line = (
            f"aiir / floor = {verdict[f'aiir_vs_floor_{kind}']:.2f}x {kind} (goal <= {GOAL_FLOOR}x)"
        )
        if "promptfoo" in times:
            verdict[f"promptfoo_vs_aiir_{kind}"] = round(times["promptfoo"] / times["aiir"], 2)
            line += (
                f"; promptfoo / aiir = {verdict[f'promptfoo_vs_aiir_{kind}']:.1f}x {kind} "
                f"(goal >= {GOAL_PROMPTFOO}x)"
            )
        print(line)
    for command, count in CRASHES.items():
        print(f"{Path(command).name} crashed {count} time(s); each was run again")
    summary = {"wall": {k: round(v, 3) for k, v in wall.items()}}
    summary["cpu"] = {k: round(v, 3) for k, v in cpu.items()}
    print(json.dumps({**summary, **verdict, "load": round(load, 1)}))


if __name__ == "__main__":
    main()
