"""Lighthouse (mobile, simulated 4G) on the main pages of a realistic demo fleet."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "build" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
PAGES = ("/", "/models", "/running")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run"
    " --disable-background-networking --disable-component-update --disable-sync"
)
# Core Web Vitals "good" thresholds, and the brief's TTI KPI.
LIMITS = {"lcp": 2500.0, "cls": 0.1, "tbt": 200.0, "tti": 3000.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_demo(data_dir: str) -> tuple[subprocess.Popen[str], str, str]:
    port, gateway, base = _free_port(), _free_port(), _free_port()
    command = [sys.executable, "-m", "ollama_webmgr", "demo", "--port", str(port)]
    command += ["--gateway-port", str(gateway), "--base-port", str(base)]
    command += ["--data-dir", data_dir]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    node = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "nœud 1" in line:
            node = line.split(": ", 1)[1].split()[0]
        if "ollama list" in line:
            break
    return process, f"http://127.0.0.1:{port}", node


def _audit(url: str) -> dict[str, float]:
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    result = subprocess.run(
        [
            *(str(LIGHTHOUSE), url, "--quiet", "--output=json", "--output-path=stdout"),
            *("--form-factor=mobile", "--throttling-method=simulate"),
            *(f"--chrome-flags={FLAGS}", "--only-categories=" + ",".join(CATEGORIES)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    report = json.loads(result.stdout)
    audits = report["audits"]
    figures = {c: 100 * float(report["categories"][c]["score"]) for c in CATEGORIES}
    figures["lcp"] = audits["largest-contentful-paint"]["numericValue"]
    figures["cls"] = audits["cumulative-layout-shift"]["numericValue"]
    figures["tbt"] = audits["total-blocking-time"]["numericValue"]
    figures["tti"] = audits["interactive"]["numericValue"]
    return figures


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def run() -> str:
    if not LIGHTHOUSE.exists() or not shutil.which(CHROMIUM):
        raise SystemExit("Lighthouse or Chromium missing: run `make bench`")
    data_dir = tempfile.mkdtemp(prefix="bench-lh-")
    process, app, node = _start_demo(data_dir)
    try:
        # Two loaded models so /running has something to show.
        for model in ("llama3.2:latest", "qwen2.5:0.5b"):
            httpx.post(
                f"{node}/api/generate", json={"model": model, "keep_alive": "1h"}
            )
        rows = []
        for path in PAGES:
            figures = _audit(app + path)
            scores = " | ".join(
                f"{figures[c]:.0f} {_mark(figures[c] == 100)}" for c in CATEGORIES
            )
            vitals = " | ".join(
                f"{figures[k]:.{3 if k == 'cls' else 0}f} {_mark(figures[k] <= v)}"
                for k, v in LIMITS.items()
            )
            rows.append(f"| `{path}` | {scores} | {vitals} |")
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)
    return "\n".join(
        [
            "## Lighthouse (mobile, simulated 4G)",
            "",
            "Lighthouse 12.8.2 with Debian's Chromium, its default mobile form factor"
            " and simulated throttling (slow 4G, 4× CPU slowdown), one run per page,"
            " against `ollama-webmgr demo` (3 emulated nodes, 9 models, 2 loaded)"
            " served by the production server on loopback. Targets: 100 in every"
            " category; LCP ≤ 2.5 s, CLS ≤ 0.1, TBT ≤ 200 ms (Core Web Vitals"
            ' "good"); TTI < 3 s (the brief\'s KPI).',
            "",
            "| page | performance | accessibility | best practices | SEO"
            " | LCP (ms) | CLS | TBT (ms) | TTI (ms) |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Below 100 on best practices: Lighthouse's `deprecations` audit flags"
            " the CSP build of Alpine.js, which reads every global at start-up to"
            " build its allow-list and so touches Chromium's deprecated"
            " `FencedFrame`; the standard Alpine build avoids it but needs `eval`,"
            " which our Content-Security-Policy forbids. Performance misses 100 by"
            " the simulated Total Blocking Time of the scripts (htmx, Alpine).",
        ]
    )
