"""One client's bad requests never take the fleet out (issue 14, point 1).

Three emulated nodes behind the gateway, on real sockets; the tests' breaker
marks a server down after a single failure (``failures_to_down=1``), so one
wrong blame shows.
"""

from __future__ import annotations

import threading

import httpx
import ollama
import pytest

from ollama_webmgr.gateway.verdicts import Judge, Verdict, classify
from ollama_webmgr.sim.faults import BUSY_MESSAGE

BAD_OPTION = {"model": "llama3.2", "prompt": "hi", "options": {"num_ctx": "big"}}
CHAT = [{"role": "user", "content": "Why is the sky blue?"}]


def error(message: str) -> bytes:
    return httpx.Response(200, json={"error": message}).content


@pytest.mark.parametrize(
    ("kind", "status", "body", "verdict"),
    [
        # Ollama's 5xx for the request itself (api/types.go, llm/llama_server.go)
        (
            "status",
            500,
            error('option "num_ctx" must be of type integer'),
            Verdict.REQUEST,
        ),
        (
            "status",
            500,
            error('option "temperature" must be of type float32'),
            Verdict.REQUEST,
        ),
        ("status", 500, error('option "stop" must be of type array'), Verdict.REQUEST),
        (
            "status",
            500,
            error('invalid format: "yaml"; expected "json" or a valid JSON Schema'),
            Verdict.REQUEST,
        ),
        (
            "status",
            500,
            error('template: :1: unexpected "}" in operand'),
            Verdict.REQUEST,
        ),
        # the same under /v1 (OpenAI's error shape)
        (
            "status",
            500,
            b'{"error":{"message":"option \\"seed\\" must be of type integer",'
            b'"type":"api_error","param":null,"code":null}}',
            Verdict.REQUEST,
        ),
        # queue full: busy, not sick
        ("status", 503, error(BUSY_MESSAGE), Verdict.BUSY),
        # anything else is only a suspicion until another server answers
        ("status", 503, error("account unavailable"), Verdict.SUSPECT),
        (
            "status",
            500,
            error("model requires more system memory (9 GiB) than is available"),
            Verdict.SUSPECT,
        ),
        (
            "status",
            500,
            error("model runner has unexpectedly stopped, this may be due to ..."),
            Verdict.SUSPECT,
        ),
        ("status", 502, b"<html>Bad Gateway</html>", Verdict.SUSPECT),
        ("timeout", None, b"", Verdict.SUSPECT),
        # the connection itself failed: nothing to do with the request
        ("connect", None, b"", Verdict.SERVER),
        ("protocol", None, b"", Verdict.SERVER),
    ],
)
def test_each_failure_is_classified_by_whose_fault_it_is(kind, status, body, verdict):
    assert classify(kind, status, body) is verdict


BOOM = error("boom")


@pytest.mark.parametrize(
    ("attempts", "answer", "blamed", "stopped_at"),
    [
        # a request fault stops at once, nobody blamed
        (
            [("a", "status", 500, error('option "x" must be of type integer'))],
            200,
            [],
            1,
        ),
        # a suspect confirmed by another server's success
        ([("a", "status", 500, BOOM)], 200, ["a"], None),
        # ... not by another server's 4xx
        ([("a", "status", 500, BOOM)], 404, [], None),
        # two servers fail the same request: the request's doing
        ([("a", "status", 500, BOOM), ("b", "status", 500, BOOM)], None, [], 2),
        ([("a", "timeout", None, b""), ("b", "status", 500, BOOM)], None, [], 2),
        # busy servers are skipped, not blamed
        (
            [("a", "status", 503, error(BUSY_MESSAGE)), ("b", "timeout", None, b"")],
            200,
            ["b"],
            None,
        ),
        # a refused connection is the server's at once
        ([("a", "connect", None, b"")], None, ["a"], None),
        # a request fault after a suspect clears the suspicion
        (
            [
                ("a", "status", 500, BOOM),
                ("b", "status", 500, error('option "x" must be of type integer')),
            ],
            None,
            [],
            2,
        ),
    ],
)
def test_the_judge_blames_only_what_another_server_contradicts(
    attempts, answer, blamed, stopped_at
):
    judge = Judge()
    seen: list[str] = []
    stop = None
    for index, (server, kind, status, body) in enumerate(attempts, start=1):
        step = judge.failed(server, kind, status, body, "why")
        seen += [name for name, _ in step.blame]
        if step.stop:
            stop = index
            break
    if answer is not None and stop is None:
        seen += [name for name, _ in judge.answered(answer)]
    assert seen == blamed
    assert stop == stopped_at


def direct_answer(sim_fleet, body):
    return httpx.post(sim_fleet.urls["n1"] + "/api/generate", json=body, timeout=10)


def test_a_thousand_bad_requests_leave_the_fleet_in_service(sim_fleet):
    """The issue's target: one client sends 1,000 requests with an option of the
    wrong type while another chats; nobody else notices."""
    expected = direct_answer(sim_fleet, {**BAD_OPTION, "stream": False})
    assert expected.status_code == 500  # what one Ollama answers
    before = sum(sim_fleet.hits("/api/generate").values())
    gateway = sim_fleet.gateway
    chats: list[str | Exception] = []
    done = threading.Event()

    def chat_meanwhile() -> None:
        client = ollama.Client(host=sim_fleet.url)
        try:
            while not done.is_set():
                try:
                    reply = client.chat("llama3.2", CHAT)
                    chats.append(reply.message.content)
                except Exception as exc:  # counted, asserted below
                    chats.append(exc)
        finally:
            client.close()

    chatter = threading.Thread(target=chat_meanwhile)
    chatter.start()
    answers: list[tuple[int, bytes, str]] = []
    try:
        with httpx.Client(base_url=sim_fleet.url, timeout=10) as bad_client:
            for index in range(1000):
                body = {**BAD_OPTION, "stream": index % 2 == 0}
                response = bad_client.post("/api/generate", json=body)
                answers.append(
                    (
                        response.status_code,
                        response.content,
                        response.headers["content-type"],
                    )
                )
                assert all(gateway.monitor.is_healthy(n) for n in sim_fleet.urls)
    finally:
        done.set()
        chatter.join(timeout=30)
    assert set(answers) == {(500, expected.content, expected.headers["content-type"])}
    assert chats
    assert all(isinstance(c, str) and c for c in chats)
    breakers = [gateway.monitor.breaker(n) for n in sim_fleet.urls]
    assert [(b.healthy, b.failures) for b in breakers] == [(True, 0)] * 3
    # each bad request went to one server only: never spread over the fleet
    bad = [r for r in sim_fleet.records if r.kind == "generate" and r.status == 500]
    assert len(bad) == 1000
    assert {r.attempts for r in bad} == {1}
    assert sum(sim_fleet.hits("/api/generate").values()) == before + 1000


def test_the_official_client_gets_ollamas_own_error(sim_fleet):
    client = sim_fleet.client()
    for _ in range(5):
        with pytest.raises(ollama.ResponseError) as caught:
            client.generate("llama3.2", "hi", options={"num_ctx": "big"})
        assert caught.value.status_code == 500
        assert caught.value.error == 'option "num_ctx" must be of type integer'
    assert client.generate("llama3.2", "hi").done
    assert all(sim_fleet.gateway.monitor.is_healthy(n) for n in sim_fleet.urls)


def test_an_unexplained_5xx_everywhere_reaches_two_servers_and_blames_none(
    sim_fleet,
):
    for state in sim_fleet.states.values():
        state.faults.update({"status": 500, "status_message": "unexplained"})
    for _ in range(3):
        response = httpx.post(
            sim_fleet.url + "/api/generate",
            json={"model": "qwen2.5:0.5b", "prompt": "x", "stream": False},
        )
        assert response.status_code == 500
        assert response.json() == {"error": "unexplained"}
    assert sim_fleet.hits("/api/generate") == {"n1": 0, "n2": 3, "n3": 3}
    assert all(sim_fleet.gateway.monitor.is_healthy(n) for n in sim_fleet.urls)


def test_a_5xx_another_server_does_not_give_takes_its_server_out(sim_fleet):
    sim_fleet.direct("n1").generate("llama3.2", "warm up")  # n1 is tried first
    sim_fleet.refresh()
    sim_fleet.states["n1"].faults.update(
        {"status": 500, "status_message": "runner crashed"}
    )
    assert sim_fleet.client().generate("llama3.2", "x").done
    assert sim_fleet.hits("/api/generate") == {"n1": 2, "n2": 1, "n3": 0}
    monitor = sim_fleet.gateway.monitor
    assert not monitor.is_healthy("n1")
    assert monitor.breaker("n1").last_error == "answered 500: runner crashed"
    assert monitor.is_healthy("n2")


def test_busy_servers_are_skipped_but_stay_in_service(sim_fleet):
    for name in ("n1", "n2"):
        sim_fleet.states[name].faults.update({"status": 503})
    with pytest.raises(ollama.ResponseError) as caught:
        sim_fleet.client().generate("llama3.2", "x")
    assert (caught.value.status_code, caught.value.error) == (503, BUSY_MESSAGE)
    assert sim_fleet.hits("/api/generate") == {"n1": 1, "n2": 1, "n3": 0}
    assert all(sim_fleet.gateway.monitor.is_healthy(n) for n in sim_fleet.urls)
