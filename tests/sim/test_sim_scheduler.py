"""The scheduler's limits per node: OLLAMA_MAX_LOADED_MODELS eviction,
OLLAMA_NUM_PARALLEL concurrency and OLLAMA_MAX_QUEUE's 503 (server/sched.go)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import ollama
import pytest
from sim_nodes import Node

from ollama_webmgr.sim.faults import BUSY_MESSAGE
from ollama_webmgr.sim.fleet import running_fleet

MODELS = ("llama3.2:latest", "qwen2.5:0.5b", "all-minilm:latest")
MakeNode = Callable[..., AbstractContextManager[Node]]


def _wait_for(node: Node, check: Callable[[dict[str, Any]], bool]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if check(httpx.get(node.url + "/_sim/scheduler").json()):
            return
        time.sleep(0.01)
    raise AssertionError("the scheduler never got there")


def _stream(
    node: Node, model: str, events: list[tuple[str, str]], label: str = ""
) -> None:
    for part in ollama.Client(host=node.url).generate(
        model, "Tell me more", stream=True
    ):
        events.append((label or model, "done" if part.done else "token"))


def _loaded(node: Node) -> list[str]:
    return sorted(m.model for m in ollama.Client(host=node.url).ps().models)


def test_max_loaded_models_evicts_the_idle_runner(make_node: MakeNode) -> None:
    with make_node(MODELS, max_loaded_models=1) as node:
        client = ollama.Client(host=node.url)
        client.generate("llama3.2", "hi")
        client.generate("qwen2.5:0.5b", "hi")
        assert _loaded(node) == ["qwen2.5:0.5b"]
    with make_node(MODELS) as node:  # 0: 3 per GPU
        client = ollama.Client(host=node.url)
        for model in MODELS:
            client.embed(model, "hi") if "minilm" in model else client.generate(
                model, "hi"
            )
        assert _loaded(node) == sorted(MODELS)


def test_a_busy_runner_is_evicted_only_once_it_finishes(make_node: MakeNode) -> None:
    # 0.1 s a token: the first stream is still running when the second comes
    with make_node(MODELS, max_loaded_models=1, token_delay=0.1) as node:
        events: list[tuple[str, str]] = []
        first = threading.Thread(target=_stream, args=(node, "llama3.2", events))
        first.start()
        _wait_for(node, lambda s: s["active"] == 1)
        _stream(node, "qwen2.5:0.5b", events)
        first.join(10)
    order = [
        model for model, kind in events if kind == "done" or model == "qwen2.5:0.5b"
    ]
    assert order[0] == "llama3.2"  # the busy one finished before the other started
    assert set(order[1:]) == {"qwen2.5:0.5b"}


@pytest.mark.parametrize("parallel", [1, 2])
def test_num_parallel_requests_share_a_runner(
    make_node: MakeNode, parallel: int
) -> None:
    with make_node(MODELS, num_parallel=parallel, token_delay=0.1) as node:
        ollama.Client(host=node.url).generate("llama3.2", "")  # loaded first
        events: list[tuple[str, str]] = []
        first = threading.Thread(target=_stream, args=(node, "llama3.2", events, "1"))
        first.start()
        _wait_for(node, lambda s: s["active"] == 1)
        _stream(node, "llama3.2", events, "2")
        first.join(10)
    first_done = events.index(("1", "done"))
    second_tokens = [i for i, event in enumerate(events) if event == ("2", "token")]
    if parallel == 1:  # the second waited for the slot: it started once the first ended
        assert min(second_tokens) > first_done
    else:  # both ran side by side
        assert min(second_tokens) < first_done


def test_max_queue_answers_server_busy(make_node: MakeNode) -> None:
    # slow tokens (0.3 s) keep the first request busy while the queue fills
    with make_node(
        MODELS, max_loaded_models=1, max_queue=1, num_parallel=2, token_delay=0.3
    ) as node:
        results: dict[str, object] = {}

        def call(name: str, work: Callable[[], object]) -> threading.Thread:
            def run() -> None:
                try:
                    results[name] = work()
                except ollama.ResponseError as error:
                    results[name] = error

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        client = ollama.Client(host=node.url)
        busy = call("busy", lambda: client.generate("llama3.2", "Tell me more"))
        _wait_for(node, lambda s: s["active"] == 1)
        loading = call("loading", lambda: client.generate("qwen2.5:0.5b", "hi"))
        _wait_for(node, lambda s: s["loading"])
        queued = call("queued", lambda: client.embed("all-minilm", "hi"))
        _wait_for(node, lambda s: s["pending"] == 1)
        with pytest.raises(ollama.ResponseError) as refused:
            client.generate("qwen2.5:0.5b", "one too many")
        # a loaded model skips the queue (a slot is free: num_parallel 2)
        again = client.generate("llama3.2", "no queue", options={"num_predict": 1})
        node.state.token_delay = 0.002  # the rest may go fast now
        for thread in (busy, loading, queued):
            thread.join(10)
    assert (refused.value.status_code, refused.value.error) == (503, BUSY_MESSAGE)
    assert again.done
    assert all(not isinstance(r, Exception) for r in results.values()), results
    assert set(results) == {"busy", "loading", "queued"}


def test_limits_are_set_per_node_and_at_run_time() -> None:
    with running_fleet(
        [MODELS, MODELS],
        library_port=None,
        node_options=[{"num_parallel": 4, "max_queue": 2}, {"max_loaded_models": 1}],
    ) as fleet:
        first, second = (httpx.get(u + "/_sim/scheduler").json() for u in fleet.urls)
        changed = httpx.post(fleet.urls[1] + "/_sim/scheduler", json={"max_queue": 7})
        wrong = httpx.post(fleet.urls[1] + "/_sim/scheduler", json={"max_queue": -1})
        unknown = httpx.post(fleet.urls[1] + "/_sim/scheduler", json={"gpus": 2})
    assert (first["num_parallel"], first["max_queue"], first["max_loaded_models"]) == (
        4,
        2,
        0,
    )
    assert (
        second["num_parallel"],
        second["max_queue"],
        second["max_loaded_models"],
    ) == (1, 512, 1)
    assert changed.json()["max_queue"] == 7
    assert (wrong.status_code, unknown.status_code) == (400, 400)
