"""Fan-out pull and create progress reads like one Ollama's (issue 14, point 2).

First the merger alone, fed the servers' streams in many interleavings; then
through the gateway over three emulated nodes with the official client.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from ollama_webmgr.gateway.progress import Line, ProgressMerger

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")
SIZES = {D1: 1000, D2: 50, D3: 10}
MANIFEST = {"status": "pulling manifest"}
VERIFY = {"status": "verifying sha256 digest"}
WRITE = {"status": "writing manifest"}
SUCCESS = {"status": "success"}


def blob(digest: str, completed: int = 0) -> Line:
    line: Line = {
        "status": f"pulling {digest[7:19]}",
        "digest": digest,
        "total": SIZES[digest],
    }
    if completed:
        line["completed"] = completed
    return line


def cached() -> list[Line]:
    """A server that holds every blob: one complete line each (download.go)."""
    return [MANIFEST, *(blob(d, SIZES[d]) for d in SIZES), VERIFY, WRITE, SUCCESS]


def downloading(start: int = 0) -> list[Line]:
    """60 ms ticks, no final 100 % line, a tiny blob with no line at all."""
    ticks = [blob(D1, c) for c in (start, max(start, 300), 700)]
    return [MANIFEST, *ticks, blob(D3, 10), VERIFY, WRITE, SUCCESS]


def interleavings(streams: dict[str, list[Line]]) -> Iterator[list[str]]:
    """Orders of the servers' lines, each server's own order kept."""
    names = [n for n, lines in streams.items() for _ in range(len(lines) + 1)]
    yield sorted(names)  # one server after the other
    yield sorted(names, reverse=True)
    rounds = max(len(lines) for lines in streams.values()) + 1
    yield [n for _ in range(rounds) for n in streams]  # round robin
    for seed in range(20):
        shuffled = list(names)
        random.Random(seed).shuffle(shuffled)
        yield shuffled


def merge(
    streams: dict[str, list[Line | str]], order: list[str], *, create: bool = False
) -> list[Line]:
    """Feed the lines in ``order``; a server's last turn ends its stream (a
    string in its list is its error line)."""
    merger = ProgressMerger(list(streams), create=create)
    pending = {n: list(lines) for n, lines in streams.items()}
    out: list[Line] = []
    for name in order:
        if name not in pending:
            continue
        if pending[name]:
            item = pending[name].pop(0)
            line = {"error": item} if isinstance(item, str) else item
            out += merger.feed(name, line)
        else:
            del pending[name]
            out += merger.finish(name, None)
    return [*out, merger.final()]


def check_reads_like_one_ollama(lines: list[Line], milestones: list[str]) -> None:
    statuses = [line.get("status") or line.get("error") for line in lines]
    assert [
        s for s, line in zip(statuses, lines, strict=True) if "digest" not in line
    ] == milestones
    first_after = next(
        (i for i, s in enumerate(statuses) if s in ("verifying sha256 digest",)),
        len(lines),
    )
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        if "digest" not in line:
            continue
        digest = line["digest"]
        assert index < first_after  # no blob line after "verifying"
        assert line["status"] == f"pulling {digest[7:19]}"
        assert line["total"] == SIZES[digest]  # the blob's own size
        completed = line.get("completed", 0)
        assert completed > 0 or "completed" not in line  # omitempty
        assert seen.get(digest, -1) < completed <= line["total"]  # never backwards
        seen[digest] = completed
    if lines[-1] == SUCCESS:
        # every blob shown ends complete (one fetched within a tick is never
        # shown, by one Ollama either)
        assert seen == {d: SIZES[d] for d in seen}
        assert D1 in seen


PULLED = ["pulling manifest", "verifying sha256 digest", "writing manifest", "success"]


@pytest.mark.parametrize(
    "streams",
    [
        {"a": cached(), "b": cached(), "c": cached()},
        {"a": downloading(), "b": downloading(), "c": downloading()},
        {"a": cached(), "b": downloading(), "c": downloading(start=500)},
    ],
    ids=["up to date everywhere", "downloading everywhere", "mixed"],
)
def test_a_pull_merges_into_one_ollamas_stream_in_any_interleaving(streams):
    for order in interleavings(streams):
        lines = merge(streams, order)
        check_reads_like_one_ollama(lines, PULLED)


def test_a_blob_present_everywhere_gives_one_complete_line():
    streams = {n: cached() for n in "abc"}
    for order in interleavings(streams):
        blobs = [line for line in merge(streams, order) if "digest" in line]
        assert blobs == [blob(d, SIZES[d]) for d in SIZES]


def test_completed_is_the_mean_of_the_servers_bytes():
    merger = ProgressMerger(["a", "b"])
    merger.feed("a", MANIFEST)
    merger.feed("b", MANIFEST)
    assert merger.feed("a", blob(D1, 1000)) == []  # b has not reported it yet
    assert merger.feed("b", blob(D1, 200)) == [blob(D1, 600)]
    assert merger.feed("b", blob(D1, 200)) == []  # unchanged: not repeated
    assert merger.feed("b", blob(D3, 10)) == [blob(D1, 1000)]  # b moved on


def test_a_failed_server_ends_the_stream_with_its_error_and_nothing_goes_back():
    failing: list[Line | str] = [MANIFEST, blob(D1, 100), "connection reset"]
    streams = {"a": downloading(), "b": downloading(), "c": failing}
    for order in interleavings(streams):
        lines = merge(streams, order)
        # the others go on to the end; the last line names the failed server
        check_reads_like_one_ollama(lines, [*PULLED[:-1], "c: connection reset"])


def creating(*steps: str) -> list[Line]:
    return [*({"status": s} for s in steps), WRITE, SUCCESS]


USING = "using existing layer sha256:" + "a" * 64
CREATING = "creating new layer sha256:" + "b" * 64
NEW_ELSEWHERE = "using existing layer sha256:" + "b" * 64


def test_a_create_where_nodes_hold_different_blobs_reads_like_one_ollama():
    """``a`` and ``b`` hold the source; ``c`` pulls it first (with its pull's own
    ``success``, as server/create.go does), then creates."""
    pull_then_create = [*downloading()[:-1], SUCCESS, *creating(USING, NEW_ELSEWHERE)]
    streams = {
        "a": creating(USING, CREATING),
        "b": creating(USING, CREATING),
        "c": pull_then_create,
    }
    expected = [
        "pulling manifest",
        "verifying sha256 digest",
        "writing manifest",
        USING,
        CREATING,  # created somewhere: said so, once
        "writing manifest",
        "success",
    ]
    for order in interleavings(streams):
        check_reads_like_one_ollama(merge(streams, order, create=True), expected)


def test_a_create_where_every_node_holds_the_source_has_no_pull_lines():
    streams = {n: creating(USING, CREATING) for n in "abc"}
    for order in interleavings(streams):
        lines = merge(streams, order, create=True)
        assert lines == [{"status": USING}, {"status": CREATING}, WRITE, SUCCESS]


def test_a_stream_that_ends_without_success_is_a_failure():
    merger = ProgressMerger(["a", "b"])
    for name in "ab":
        merger.feed(name, MANIFEST)
    merger.finish("a", None)
    merger.feed("b", SUCCESS)
    merger.finish("b", None)
    assert merger.final() == {"error": "a: the stream ended before success"}


# --- through the gateway ------------------------------------------------------
def direct_sizes(sim_fleet, model: str) -> dict[str, int]:
    """The blobs' sizes as one Ollama reports them."""
    with httpx.stream(
        "POST", sim_fleet.urls["n1"] + "/api/pull", json={"model": model}
    ) as response:
        lines = [
            httpx.Response(200, content=raw).json() for raw in response.iter_lines()
        ]
    return {line["digest"]: line["total"] for line in lines if "digest" in line}


def check_through_the_gateway(parts, sizes: dict[str, int], milestones) -> None:
    assert [p.status for p in parts if not p.digest] == milestones
    last: dict[str, int] = {}
    verifying = [p.status for p in parts].index("verifying sha256 digest")
    for index, part in enumerate(parts):
        if part.digest:
            assert index < verifying
            assert part.total == sizes[part.digest]
            assert (part.completed or 0) > last.get(part.digest, -1)
            last[part.digest] = part.completed or 0
    assert last == {d: sizes[d] for d in last}  # each blob shown ends complete
    assert max(sizes, key=sizes.__getitem__) in last  # the weights were shown


def test_a_pull_through_the_gateway_reads_like_one_ollama(sim_fleet):
    for state, bandwidth in zip(
        sim_fleet.states.values(), (1.5e9, 0.9e9, 3e9), strict=True
    ):
        state.bandwidth = bandwidth * state.registry.scale  # each at its own pace
    parts = list(sim_fleet.client().pull("smollm2:135m", stream=True))
    sizes = direct_sizes(sim_fleet, "smollm2:135m")  # n1 has it now: cached
    check_through_the_gateway(parts, sizes, PULLED)
    assert len([p for p in parts if p.digest]) > len(sizes)  # progress was shown
    again = list(sim_fleet.client().pull("smollm2:135m", stream=True))
    # up to date everywhere: one complete line per blob, as one Ollama
    assert [(p.digest, p.completed) for p in again if p.digest] == list(sizes.items())
    check_through_the_gateway(again, sizes, PULLED)


def test_a_create_through_the_gateway_reads_like_one_ollama(sim_fleet):
    sizes = direct_sizes(sim_fleet, "llama3.2")  # n3 lacks it: it pulls it first
    parts = list(
        sim_fleet.client().create(
            model="mario", from_="llama3.2", system="Mario.", stream=True
        )
    )
    layers = [p.status for p in parts if p.status.startswith(("using", "creating"))]
    check_through_the_gateway(
        parts,
        sizes,
        [
            "pulling manifest",
            "verifying sha256 digest",
            "writing manifest",
            *layers,
            "writing manifest",
            "success",
        ],
    )
    assert len(layers) == len({s.rsplit(" ", 1)[1] for s in layers})  # once each
