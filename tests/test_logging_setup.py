"""The JSON log lines: credentials masked in linear time, client strings clipped.

A 100,000-character model name once froze the web app and the gateway for
10 s: the masking pattern backtracked quadratically. These tests time the
masking against inputs built to make a backtracking pattern quadratic, clip
what a client sends in one place, and run the real ``serve`` process to show
that one client's huge name does not hold up another client's requests.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ollama_webmgr.logging_setup import FIELD_LIMIT, json_handler, redact
from process_env import clean_env

# Shapes that make a backtracking pattern try every start against every end.
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "one long word": lambda n: "a" * n,
    "scheme characters": lambda n: ("a1+.-" * n)[:n],
    "schemes without credentials": lambda n: ("a://" * n)[:n],
    "colons after a scheme": lambda n: "x://" + ("a:" * n)[:n],
    "bearer and spaces": lambda n: ("bearer" + " " * 50) * (n // 56),
    "bearer tokens": lambda n: ("Bearer " * n)[:n],
}


def _seconds(text: str) -> float:
    """CPU time of the masking, the best of five: other processes on the machine
    take wall time, not this process's CPU time."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        redact(text)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("shape", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_masking_work_grows_linearly_with_the_text(shape):
    small, large = shape(250_000), shape(1_000_000)
    ratio = _seconds(large) / max(_seconds(small), 1e-4)
    # four times the text: about 4 times the work when linear, 16 when
    # quadratic; the bound leaves room for a busy machine
    assert ratio < 9
    # the old pattern took ~10 s on 100,000 characters, hours on a million
    assert _seconds(large) < 1.0


def test_masking_still_finds_credentials():
    text = (
        "redis://:s3cret@cache:6379/0 HTTP://u:p@h/x 1http://u:p@h "
        "Authorization: Bearer abc.def basic dXNlcjpwYXNz http://localhost:11434/api"
    )
    assert redact(text) == (
        "redis://***@cache:6379/0 HTTP://***@h/x 1http://***@h "
        "Authorization: Bearer *** basic *** http://localhost:11434/api"
    )


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, object]]]]:
    stream = io.StringIO()
    handler = json_handler(stream)
    logger = logging.getLogger("ollama_webmgr.test_clip")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_client_strings_are_clipped_wherever_they_are_logged(log_lines):
    log = logging.getLogger("ollama_webmgr.test_clip")
    name = "m" * 100_000
    secret = "http://user:hunter2@host/" + "p" * 100_000
    log.warning("model %s not found (%d tries)", name, 3, extra={"path": secret})
    log.info("header %(value)s", {"value": "v" * 50_000})
    try:
        raise ValueError(f"invalid name {name!r}")
    except ValueError:
        log.exception("rejected %r", name)
    warning, info, error = log_lines()
    assert str(warning["message"]).startswith("model " + "m" * FIELD_LIMIT + "…")
    assert str(warning["message"]).endswith(" characters) not found (3 tries)")
    assert len(str(warning["message"])) < FIELD_LIMIT + 100
    assert warning["path"] == "http://***@host/" + "p" * (FIELD_LIMIT - 25) + (
        f"… (+{len(secret) - FIELD_LIMIT} characters)"
    )
    assert len(str(info["message"])) < FIELD_LIMIT + 100
    assert len(str(error["message"])) < FIELD_LIMIT + 100
    assert "ValueError: invalid name" in str(error["exception"])
    assert len(str(error["exception"])) < 10_000


def test_numbers_and_short_values_are_formatted_as_before(log_lines):
    log = logging.getLogger("ollama_webmgr.test_clip")
    log.info("%s took %.1f ms, %d bytes, %r", "short", 1.25, 10, ["a"])
    assert log_lines()[0]["message"] == "short took 1.2 ms, 10 bytes, ['a']"


# --- one client's huge name does not stall the others -------------------------------
def _serve(tmp_path: Path) -> subprocess.Popen[str]:
    env = clean_env(
        PYTHONPATH=os.environ.get("PYTHONPATH", ""),
        HOME=str(tmp_path),
        SECRET_KEY="logging-test",
        OLLAMA_BASE_URL="http://127.0.0.1:9",
        WEBMGR_DATA_DIR=str(tmp_path / "data"),
    )
    command = ["serve", "--port", "0", "--gateway-port", "0"]
    with (tmp_path / "stderr.log").open("w") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "ollama_webmgr", *command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )


def test_a_huge_model_name_does_not_stall_other_clients(tmp_path: Path) -> None:
    process = _serve(tmp_path)
    try:
        assert process.stdout is not None
        web = process.stdout.readline().split(": ", 1)[1].strip().rstrip("/")
        gateway = process.stdout.readline().split(": ", 1)[1].strip().rstrip("/")
        latencies: list[float] = []
        done = threading.Event()

        def other_client() -> None:
            with httpx.Client(timeout=10) as http:
                while not done.is_set():
                    for url in (gateway + "/", web + "/health"):
                        started = time.monotonic()
                        try:
                            answered = http.get(url).status_code == 200
                        except httpx.HTTPError:
                            answered = False
                        took = time.monotonic() - started
                        latencies.append(took if answered else float("inf"))

        watcher = threading.Thread(target=other_client)
        watcher.start()
        try:
            assert wait_for(lambda: len(latencies) >= 4)
            seen_before = len(latencies)
            name = "a" * 200_000  # 41 s of masking with the old pattern
            with httpx.Client(timeout=60) as http:
                for _ in range(3):
                    answer = http.post(web + "/api/models/show", json={"name": name})
                    assert answer.status_code == 400
            assert wait_for(lambda: len(latencies) >= seen_before + 4)
        finally:
            done.set()
            watcher.join(timeout=30)
        assert max(latencies) < 1.0, max(latencies)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:  # still busy: the very fault tested
            process.kill()
            process.communicate()
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    failed = [json.loads(x) for x in lines if '"request failed' in x]
    assert len(failed) == 3
    assert all(len(line) < 2_000 for line in lines)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
