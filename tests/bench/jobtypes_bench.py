"""Job types benchmark: our python3 wrapper against the upstream one, next to a bare ASGI app.

    python -m tests.bench --only jobtypes [--duration 5]

The adder sample (sample/python-class) is served three ways, each one uvicorn process on
127.0.0.1: by our wrapper (racetrack_job_wrapper), by upstream's `racetrack-job-runner` from PyPI
(installed once in a venv under ~/.cache/racetrack/bench/, keyed by version) and by a bare ASGI app
that only sums the numbers. `wrk` (Debian package) loads `perform` at concurrency 1, 16 and 64; the
servers take turns at each level. Then the adder image is built cold (no cache) and warm (code
changed, requirements not). Figures go to docs/benchmarks.md, section "Job types".
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADDER_DIR = ROOT / "sample" / "python-class"
WRAPPER_DIR = ROOT / "jobtypes" / "python3" / "wrapper"
UPSTREAM_PACKAGE = "racetrack-job-runner"
UPSTREAM_VERSION = "1.18.0"
PREFIX = "/pub/job/adder/1.0.0"
CONCURRENCY = (1, 16, 64)
BODY = '{"numbers": [40, 2]}'
DOCS = ROOT / "docs" / "benchmarks.md"


def _cache_dir() -> Path:
    return Path(os.environ.get("RACETRACK_CACHE_DIR", Path.home() / ".cache" / "racetrack"))


def upstream_python(version: str = UPSTREAM_VERSION) -> Path:
    """The Python of a venv holding racetrack-job-runner==version, made on first use."""
    venv = _cache_dir() / "bench" / f"{UPSTREAM_PACKAGE}-{version}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{UPSTREAM_PACKAGE}=={version}"], check=True)
    (venv / ".complete").touch()
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(
    name: str, command: list[str], env: dict[str, str], cwd: Path, log_dir: Path
) -> subprocess.Popen[bytes]:
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            if (
                httpx.post(
                    url, content=BODY, headers={"content-type": "application/json"}, timeout=2
                ).status_code
                == 200
            ):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk(url: str, concurrency: int, duration: float, script: Path) -> dict[str, float]:
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, int(duration))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": float(errors.group(1)) if errors else 0.0}


def _python_load(url: str, concurrency: int, duration: float, script: Path) -> dict[str, float]:
    """Fallback when wrk is missing: keep-alive HTTP/1.1 clients on asyncio, one per connection."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = BODY.encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    failures = [0]

    async def client(deadline: float) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 2"):
                    failures[0] += 1
        finally:
            writer.close()

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client(started + duration) for _ in range(concurrency)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "non_2xx": failures[0],
    }


def _load_tool() -> tuple[str, Any]:
    return (
        ("wrk -t1", _wrk)
        if shutil.which("wrk")
        else ("a Python asyncio client (wrk not installed)", _python_load)
    )


def measure_wrappers(duration: float) -> dict[str, dict[int, dict[str, float]]]:
    _, load = _load_tool()
    upstream = upstream_python()
    work = Path(tempfile.mkdtemp(prefix="rt-jobtypes-bench-"))
    script = work / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACK_")}
    base_env.update(JOB_NAME="adder", JOB_VERSION="1.0.0", LOG_LEVEL="WARNING")
    ports = {name: _free_port() for name in ("ours", "upstream", "bare")}
    servers = {
        "ours": _start(
            "ours",
            [
                sys.executable,
                "-m",
                "racetrack_job_wrapper",
                "run",
                "adder.py",
                "AdderModel",
                "--port",
                str(ports["ours"]),
                "--host",
                "127.0.0.1",
            ],
            {**base_env, "PYTHONPATH": str(WRAPPER_DIR)},
            ADDER_DIR,
            work,
        ),
        "upstream": _start(
            "upstream",
            [
                str(upstream),
                str(Path(__file__).with_name("upstream_runner.py")),
                str(ports["upstream"]),
                "adder.py",
                "AdderModel",
            ],
            base_env,
            ADDER_DIR,
            work,
        ),
        "bare": _start(
            "bare",
            [sys.executable, "-m", "tests.bench.bare_asgi_adder", str(ports["bare"])],
            {**base_env, "PYTHONPATH": str(ROOT)},
            ROOT,
            work,
        ),
    }
    urls = {name: f"http://127.0.0.1:{port}{PREFIX}/api/v1/perform" for name, port in ports.items()}
    results: dict[str, dict[int, dict[str, float]]] = {name: {} for name in servers}
    try:
        for name, url in urls.items():
            _wait_serving(url, servers[name])
            load(url, 16, 1, script)  # warm-up
        for concurrency in CONCURRENCY:
            for name, url in urls.items():
                results[name][concurrency] = figures = load(url, concurrency, duration, script)
                print(
                    f"  {name:9s} c={concurrency:<3d} {figures['rps']:9.0f} req/s"
                    f"  p50 {figures['p50_ms']:.3f} ms"
                    f"  p99 {figures['p99_ms']:.3f} ms  non-2xx {figures['non_2xx']:.0f}",
                    flush=True,
                )
    finally:
        for process in servers.values():
            _stop(process)
        shutil.rmtree(work, ignore_errors=True)
    return results


def measure_builds() -> dict[str, float]:
    """Seconds to build the adder image: cold (no cache), warm (code changed, same requirements)."""
    sys.path.insert(0, str(ROOT))
    import jobtypes
    from stacks.docker.build import build_image
    from tests.jobtypes.jobs import job_settings, load_manifest, remove_images

    figures: dict[str, float] = {}
    settings = job_settings(Path(tempfile.mkdtemp(prefix="rt-jobtypes-bench-data-")))
    manifest = load_manifest(ADDER_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "adder"
        shutil.copytree(ADDER_DIR, folder)
        for label, no_cache, change in (("cold", True, False), ("warm", False, True)):
            if change:
                with open(folder / "adder.py", "a", encoding="utf-8") as handle:
                    handle.write(f"\n# changed at {time.time()}\n")
            source = jobtypes.unpack_build_context(Path(tmp) / f"ws-{label}", jobtypes.pack_directory(folder))
            plan = jobtypes.plan_build(manifest, source, build_id=f"bench-{label}", settings=settings)
            started = time.monotonic()
            log: list[str] = []
            build_image(plan.images[0], log=log.append, no_cache=no_cache, settings=settings.build_settings())
            figures[label] = time.monotonic() - started
            if label == "warm":
                figures["warm_dependency_layer_cached"] = float(
                    any("CACHED" in line for line in log)
                    and not any("Collecting six" in line for line in log)
                )
            plan.cleanup()
            from tests.jobtypes.jobs import Built

            remove_images(Built(plan, manifest, log, figures[label]))
            print(f"  adder build {label}: {figures[label]:.1f} s", flush=True)
    return figures


def _table(results: dict[str, dict[int, dict[str, float]]]) -> list[str]:
    lines = [
        "| concurrency | server | requests/s | median ms | p99 ms | vs upstream (req/s) |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    labels = {
        "ours": "our python3 wrapper",
        "upstream": f"upstream {UPSTREAM_PACKAGE} {UPSTREAM_VERSION}",
        "bare": "bare ASGI app (ceiling)",
    }
    for concurrency in CONCURRENCY:
        reference = results["upstream"][concurrency]["rps"]
        for name in ("ours", "upstream", "bare"):
            row = results[name][concurrency]
            ratio = row["rps"] / reference if reference else float("nan")
            lines.append(
                f"| {concurrency} | {labels[name]} | {row['rps']:.0f} | {row['p50_ms']:.3f} | "
                f"{row['p99_ms']:.3f} | {ratio:.1f}x |"
            )
    return lines


def write_section(body: str, path: Path = DOCS, title: str = "Job types") -> None:
    """Replaces (or adds) the `## <title>` section of docs/benchmarks.md."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def run(duration: float | None = None, *, builds: bool = True) -> dict[str, Any]:
    duration = duration or 5.0
    print(f"jobtypes: wrappers, {duration:.0f} s per measurement", flush=True)
    load_before = os.getloadavg()[0]
    results = measure_wrappers(duration)
    load_after = os.getloadavg()[0]
    build_times = measure_builds() if builds else {}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cpus = os.cpu_count()
    lines = [
        f"Measured {when} on {platform.machine()} with {cpus} CPUs shared with other work (figures vary by",
        "run), by `python -m tests.bench --only jobtypes`. One uvicorn process per server, all on",
        f"127.0.0.1; load from {_load_tool()[0]} for {duration:.0f} s per row,",
        f"`POST {PREFIX}/api/v1/perform` with `{BODY}`",
        "(the adder of `sample/python-class`). Upstream runs its own CLI, bound to 127.0.0.1.",
        f"Load average (1 min) on the machine: {load_before:.1f} before, {load_after:.1f} after the runs.",
        "",
        *_table(results),
    ]
    c16 = results["ours"][16]["rps"] / results["upstream"][16]["rps"]
    lines += [
        "",
        f"At concurrency 16 our wrapper serves {c16:.1f}x the upstream wrapper's requests per second "
        "(target: 10x); median latency at concurrency 1: "
        f"{results['ours'][1]['p50_ms']:.3f} ms (target: < 1 ms).",
    ]
    if build_times:
        lines += [
            "",
            "### Adder image build (`sample/python-class`, local BuildKit)",
            "",
            "| build | seconds |",
            "| --- | ---: |",
            "| cold (`--no-cache`: venv, wrapper and job requirements from PyPI) | "
            f"{build_times['cold']:.1f} |",
            f"| warm (adder.py changed, requirements.txt not) | {build_times['warm']:.1f} |",
            "",
            "Warm build reused the dependency layer: "
            + (
                "yes (`CACHED`, no pip download)."
                if build_times.get("warm_dependency_layer_cached")
                else "no."
            ),
        ]
    write_section("\n".join(lines))
    return {"wrappers": results, "builds": build_times}
