from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from ollama_webmgr.logging_setup import json_handler


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = json_handler(stream)
    logger = logging.getLogger("ollama_webmgr")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_logs_one_json_line_with_its_request_id(
    client: FlaskClient, log_stream: io.StringIO
) -> None:
    response = client.get("/health?token=secret-value")
    request_id = response.headers["X-Request-ID"]
    (line,) = _lines(log_stream)
    assert line["request_id"] == request_id
    assert line["level"] == "INFO"
    assert line["logger"] == "ollama_webmgr.web.access"
    assert line["path"] == "/health"
    assert line["status"] == 200
    assert "secret-value" not in log_stream.getvalue()


def test_a_sane_client_request_id_is_kept_and_echoed(
    client: FlaskClient, log_stream: io.StringIO
) -> None:
    response = client.get("/health", headers={"X-Request-ID": "proxy-123"})
    assert response.headers["X-Request-ID"] == "proxy-123"
    assert _lines(log_stream)[0]["request_id"] == "proxy-123"


def test_an_unsafe_client_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "a b\tc" * 50})
    assert len(response.headers["X-Request-ID"]) == 32


def test_each_request_gets_its_own_id(client: FlaskClient) -> None:
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert first != second


def test_credentials_in_messages_are_masked(log_stream: io.StringIO) -> None:
    logging.getLogger("ollama_webmgr.test").warning(
        "cannot reach %s", "redis://:hunter2@cache:6379/0"
    )
    (line,) = _lines(log_stream)
    assert line["message"] == "cannot reach redis://***@cache:6379/0"
    assert "request_id" not in line


def test_job_id_is_stamped_while_a_job_runs(log_stream: io.StringIO) -> None:
    from ollama_webmgr.logging_setup import job_id_var

    token = job_id_var.set("job-7")
    try:
        logging.getLogger("ollama_webmgr.jobs").info("pulling")
    finally:
        job_id_var.reset(token)
    logging.getLogger("ollama_webmgr.jobs").info("idle")
    first, second = _lines(log_stream)
    assert first["job_id"] == "job-7"
    assert "job_id" not in second


def test_a_running_job_stamps_its_log_lines_with_its_id(
    log_stream: io.StringIO,
) -> None:
    from ollama_webmgr.jobs.bus import MemoryBus
    from ollama_webmgr.jobs.runner import ThreadRunner

    def chatty(params: dict[str, object], ctx: object) -> None:
        logging.getLogger("ollama_webmgr.jobs.sample").info("working")

    runner = ThreadRunner({"chatty": chatty}, MemoryBus())
    job = runner.submit("chatty", {})
    events = list(runner.bus.events(job.id, None, timeout=2))
    assert events[-1].type == "done"
    [line] = [entry for entry in _lines(log_stream) if entry["message"] == "working"]
    assert line["job_id"] == job.id


def test_unexpected_error_is_logged_with_traceback_and_request_id(
    log_stream: io.StringIO,
) -> None:
    from web_support import make_app

    app = make_app()

    @app.get("/api/test/crash")
    def crash() -> str:
        raise RuntimeError("kaboom")

    response = app.test_client().get("/api/test/crash")
    error = next(line for line in _lines(log_stream) if line["level"] == "ERROR")
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "RuntimeError: kaboom" in str(error["exception"])
