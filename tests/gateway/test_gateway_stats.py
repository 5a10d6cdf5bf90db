"""Request records: batching recorder and token counts of non-stream answers."""

from __future__ import annotations

import threading

import httpx
from gateway_fakes import Node, wait_until

from ollama_webmgr.gateway.stats import BatchRecorder, RequestRecord


def _record(index: int) -> RequestRecord:
    return RequestRecord(
        started_at=0.0, method="POST", path="/api/chat", kind="chat", model="m",
        server="a", status=200, latency_ms=float(index), ttft_ms=None,
        prompt_tokens=None, completion_tokens=None, bytes_in=0, bytes_out=0,
        attempts=1, error=None,
    )  # fmt: skip


def test_recorder_hands_records_to_the_sink_in_batches():
    batches: list[list[RequestRecord]] = []
    recorder = BatchRecorder(batches.append, batch_size=10, interval=0.05)
    recorder.start()
    for index in range(25):
        recorder.submit(_record(index))
    assert wait_until(lambda: sum(map(len, batches)) == 25)
    recorder.stop()
    assert all(len(batch) <= 10 for batch in batches)
    assert [r.latency_ms for batch in batches for r in batch] == list(
        map(float, range(25))
    )


def test_recorder_flushes_on_stop_and_survives_a_failing_sink():
    calls: list[int] = []
    fail = threading.Event()
    fail.set()

    def sink(batch):
        calls.append(len(batch))
        if fail.is_set():
            fail.clear()
            raise RuntimeError("store down")

    recorder = BatchRecorder(sink, interval=10)
    recorder.start()
    recorder.submit(_record(1))
    recorder.stop()
    assert calls == [1]
    recorder = BatchRecorder(sink, interval=10)
    recorder.start()
    recorder.submit(_record(2))
    recorder.stop()
    assert calls == [1, 1]


def test_non_stream_answer_is_recorded_with_its_token_count(make_fleet):
    fleet = make_fleet(Node("a"))
    httpx.post(fleet.url + "/api/generate", json={"model": "llama3.2", "stream": False})
    record = fleet.last_record()
    assert (record.completion_tokens, record.status, record.server) == (3, 200, "a")


def test_gateway_made_errors_are_recorded_without_a_server(make_fleet):
    fleet = make_fleet(Node("a"))
    httpx.post(fleet.url + "/api/generate", json={"model": "nope"})
    record = fleet.last_record()
    assert (record.server, record.status, record.error) == (
        None,
        404,
        "model 'nope' not found",
    )
