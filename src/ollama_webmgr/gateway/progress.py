"""The progress of N servers pulling (or creating) one model, as one Ollama's.

One Ollama streams ``pulling manifest``, one or more lines per blob (``digest``,
``total`` = the blob's size, ``completed`` = its bytes so far; one complete line
for a blob it already holds), ``verifying sha256 digest``, ``writing
manifest``, maybe ``removing unused layers``, then ``success``
(``server/images.go: PullModel``). A create whose ``from`` is not local runs
that pull first, its own ``success`` included, then one ``using existing layer``
or ``creating new layer`` line per layer, ``writing manifest`` and ``success``
(``server/create.go``). The merged stream keeps that order:

* every server walks the same list of *phases*; a status line moves its server
  to the first phase at or after its current one that the line belongs to (so
  a create's second ``writing manifest`` is told from its pull's);
* a phase's line is sent once, when every server still running has reached it
  or gone past it: ``verifying sha256 digest`` only once every server has all
  its blobs, hence never a layer line after it;
* a blob's line: ``total`` is its size, ``completed`` the mean over the servers
  pulling it of each one's bytes (a server that moved on counts it whole), so
  it reaches ``total`` only when every server has the blob, and never goes
  backwards. Its first line waits until each of those servers has reported the
  blob (or moved past it): a blob every server holds gives one complete line.
  Later lines are sent when ``completed`` changes;
* a create's layer lines are sent once per layer (``creating new layer`` when
  any server had to create it), after every server is done with them;
* the pull's own ``success`` inside a create is not repeated: the stream has one
  ``success``, last, when every server succeeded; otherwise it ends with one
  ``{"error": ...}`` line (the servers' message as is when they all failed
  alike, else each server's prefixed with its name).

Which servers run it is said by the ``X-Ollama-Server`` response header; their
own detail is the web app's (one pull job per server), not a ``total``.

>>> merger = ProgressMerger(["a", "b"])
>>> blob = {"status": "pulling 0123456789ab", "digest": "sha256:0123456789ab", "total": 10}
>>> merger.feed("a", {"status": "pulling manifest"})
[]
>>> merger.feed("b", {"status": "pulling manifest"})
[{'status': 'pulling manifest'}]
>>> merger.feed("a", {**blob, "completed": 10})
[]
>>> merger.feed("b", {**blob, "completed": 4})
[{'status': 'pulling 0123456789ab', 'digest': 'sha256:0123456789ab', 'total': 10, 'completed': 7}]
>>> merger.feed("a", {"status": "verifying sha256 digest"})
[]
>>> [line["status"] for line in merger.feed("b", {"status": "verifying sha256 digest"})]
['pulling 0123456789ab', 'verifying sha256 digest']
>>> merger.feed("a", {"status": "success"}) + merger.feed("b", {"status": "success"})
[]
>>> merger.finish("a", None) + merger.finish("b", None)
[]
>>> merger.final()
{'status': 'success'}
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Line = dict[str, Any]
Match = Callable[[Line], bool]

_STEP = re.compile(r"(using existing|creating new) layer (\S+)$")


def _status(text: str) -> Match:
    return lambda line: line.get("status") == text


def _is_progress(line: Line) -> bool:
    return isinstance(line.get("digest"), str) and isinstance(line.get("total"), int)


def _is_removing(line: Line) -> bool:
    status = str(line.get("status", ""))
    return status == "removing unused layers" or status.startswith(
        "couldn't remove unused layers"
    )


def _is_step(line: Line) -> bool:
    return line.get("status") not in ("writing manifest", "success")


@dataclass(frozen=True)
class Phase:
    name: str
    matches: Match
    #: ``once``: one line for the phase; ``blobs``: progress lines per digest;
    #: ``steps``: a create's layer lines; ``quiet``: not repeated
    kind: Literal["once", "blobs", "steps", "quiet"] = "once"


_PULL = (
    Phase("manifest", _status("pulling manifest")),
    Phase("blobs", _is_progress, "blobs"),
    Phase("verifying", _status("verifying sha256 digest")),
    Phase("writing", _status("writing manifest")),
    Phase("removing", _is_removing),
    Phase("pulled", _status("success"), "quiet"),
)
_CREATE = (
    *_PULL,
    Phase("steps", _is_step, "steps"),
    Phase("written", _status("writing manifest")),
    Phase("created", _status("success"), "quiet"),
)
_BLOBS = 1  # index of the blob phase in both lists
_DONE = math.inf


@dataclass
class _Blob:
    status: str
    total: int
    reported: set[str] = field(default_factory=set)
    bytes: dict[str, int] = field(default_factory=dict)  # server -> completed
    sent: int | None = None  # completed of the last line sent


class ProgressMerger:
    """Feed each server's lines; send what ``feed``/``finish`` return, then ``final()``."""

    def __init__(self, servers: Sequence[str], *, create: bool = False) -> None:
        self._servers = list(servers)
        self._phases = _CREATE if create else _PULL
        self._cursor: dict[str, float] = dict.fromkeys(self._servers, -1)
        self._start: dict[str, int] = {}  # server -> phase of its first line
        self._first: dict[int, Line] = {}  # phase -> first line seen for it
        self._sent_phase = -1  # every phase up to this one has been dealt with
        self._blobs: dict[str, _Blob] = {}  # by digest, in the order first seen
        self._moved_on: dict[str, set[str]] = {s: set() for s in self._servers}
        self._current: dict[str, str] = {}  # server -> digest it reports
        self._steps: dict[str, Line] = {}  # a create's layer lines, by layer
        self._other: set[str] = set()  # statuses no phase knows, sent once
        self._last: dict[str, str] = {}  # server -> status of its last line
        self._errors: dict[str, str] = {}
        self._statuses: dict[str, int] = {}

    # --- input ------------------------------------------------------------
    def feed(self, server: str, line: Line) -> list[Line]:
        if line.get("error"):
            self._errors[server] = str(line["error"])
            return []
        phase = self._phase_of(server, line)
        if phase is None:  # unknown to every phase: passed on, once
            status = str(line.get("status", ""))
            if not status or status in self._other:
                return []
            self._other.add(status)
            return [dict(line)]
        self._last[server] = str(line.get("status", ""))
        self._start.setdefault(server, phase)
        self._cursor[server] = phase
        kind = self._phases[phase].kind
        if kind == "blobs":
            self._blob_line(server, line)
        elif kind == "steps":
            self._step_line(line)
        else:
            self._first.setdefault(phase, dict(line))
        if phase > _BLOBS:
            self._leave_blob(server)
        return self._advance()

    def finish(self, server: str, error: str | None, status: int = 500) -> list[Line]:
        """A server's stream ended (``error``: why it failed, with its HTTP status)."""
        ended_early = self._last.get(server) != "success"
        if error is None and ended_early and server not in self._errors:
            error = "the stream ended before success"
        if error:
            self._errors.setdefault(server, error)
            self._statuses.setdefault(server, status)
        self._cursor[server] = _DONE
        self._leave_blob(server)
        return self._advance()

    # --- output -----------------------------------------------------------
    @property
    def failed_status(self) -> int:
        """The status for a failure: the servers' own when they all agree, else 500."""
        statuses = set(self._statuses.values())
        if len(statuses) == 1 and len(self._statuses) == len(self._servers):
            return statuses.pop()
        return 500

    def final(self) -> Line:
        """The last line: ``success`` or one error naming the failed servers."""
        if not self._errors:
            return {"status": "success"}
        messages = set(self._errors.values())
        if len(messages) == 1 and len(self._errors) == len(self._servers):
            return {"error": messages.pop()}  # same answer everywhere: keep it as is
        return {
            "error": "; ".join(f"{name}: {msg}" for name, msg in self._errors.items())
        }

    # --- phases -----------------------------------------------------------
    def _phase_of(self, server: str, line: Line) -> int | None:
        start = max(0, int(min(self._cursor[server], len(self._phases))))
        for index in range(start, len(self._phases)):
            if self._phases[index].matches(line):
                return index
        return None

    def _running(self) -> list[str]:
        return [s for s in self._servers if self._cursor[s] != _DONE]

    def _advance(self) -> list[Line]:
        """Lines of the phases every running server has reached, and blob lines."""
        out = self._blob_lines()
        running = self._running()
        if any(self._cursor[s] < 0 for s in running):
            return out  # a server has not said where it starts yet
        reached = min((self._cursor[s] for s in running), default=_DONE)
        last = len(self._phases) - 1
        while self._sent_phase + 1 <= min(reached, last):
            self._sent_phase += 1
            out += self._phase_lines(self._sent_phase)
        return out

    def _phase_lines(self, index: int) -> list[Line]:
        # a create's layer lines go once every server is past them, deduplicated
        out = list(self._steps.values()) if self._after_steps(index) else []
        phase = self._phases[index]
        if phase.kind == "once" and index in self._first:
            out.append(self._first[index])
        return out  # blob lines are sent as they come (_blob_lines)

    def _after_steps(self, index: int) -> bool:
        return index > 0 and self._phases[index - 1].kind == "steps"

    def _step_line(self, line: Line) -> None:
        found = _STEP.match(str(line.get("status", "")))
        key = found.group(2) if found else str(line.get("status", ""))
        known = self._steps.get(key)
        if (
            known is None
            or (found and found.group(1) == "creating new")
            or (line.get("completed") or 0) > (known.get("completed") or 0)
        ):  # "creating new" wins; of a quantizing line, the furthest
            self._steps[key] = dict(line)

    # --- blobs ------------------------------------------------------------
    def _blob_line(self, server: str, line: Line) -> None:
        digest = str(line["digest"])
        if self._current.get(server, digest) != digest:
            self._moved_on[server].add(self._current[server])
        self._current[server] = digest
        blob = self._blobs.setdefault(
            digest, _Blob(str(line.get("status", "")), int(line["total"]))
        )
        blob.reported.add(server)
        completed = int(line.get("completed") or 0)
        blob.bytes[server] = max(blob.bytes.get(server, 0), completed)

    def _leave_blob(self, server: str) -> None:
        current = self._current.pop(server, None)
        if current is not None:
            self._moved_on[server].add(current)

    def _pullers(self) -> list[str]:
        """The servers pulling blobs and still at it or done: all of a pull's,
        a create's that started with a pull; failed ones no longer count."""
        return [
            s
            for s in self._servers
            if s not in self._errors and self._start.get(s, 0) <= _BLOBS
        ]

    def _past(self, server: str, digest: str) -> bool:
        """Gone past ``digest``: out of the blob phase, or on a later blob (all
        servers fetch blobs in the manifest's order)."""
        if self._cursor[server] > _BLOBS or digest in self._moved_on[server]:
            return True
        order = list(self._blobs)
        current = self._current.get(server)
        return current is not None and order.index(current) > order.index(digest)

    def _blob_lines(self) -> list[Line]:
        if any(self._cursor[s] < 0 for s in self._servers):
            return []  # who pulls is not known yet
        pullers = self._pullers()
        out = []
        for digest, blob in self._blobs.items():
            ready = all(s in blob.reported or self._past(s, digest) for s in pullers)
            if not ready or not pullers:
                continue
            done = sum(self._held(s, digest, blob) for s in pullers) // len(pullers)
            if blob.sent is not None and done <= blob.sent:
                continue
            blob.sent = done
            line: Line = {"status": blob.status, "digest": digest, "total": blob.total}
            if done:  # omitempty, as Ollama
                line["completed"] = done
            out.append(line)
        return out

    def _held(self, server: str, digest: str, blob: _Blob) -> int:
        # only what the server said: a later blob in the order is no proof
        if self._cursor[server] > _BLOBS or digest in self._moved_on[server]:
            return blob.total
        return min(blob.bytes.get(server, 0), blob.total)
