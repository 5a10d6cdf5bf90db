"""The pull watchdog: a pull whose bytes stop coming, or go back, is restarted.

The byte count of one attempt is the sum of ``completed`` over its blobs. It is
*stalled* when it has not grown for ``stall_timeout`` seconds, which covers both
ways a pull gets stuck: Ollama's 60 ms ticker repeating the same ``completed``
(seen on the next line), and no line at all (a read blocked on the socket). The
second is caught by a helper thread, ``Guard``, which cuts the connection; the
pull's own read timeout stays long because Ollama is legitimately silent for
minutes while it verifies big blobs, so the watch is disarmed from the first
status after the downloads (``verifying sha256 digest``). The guard also polls
for a cancel, so a silent pull still stops when asked to.

>>> watch = ByteWatch(window=60.0, since=0.0)
>>> watch.line(PullProgress("pulling a", "sha256:a", 100, 10), 1.0)
>>> watch.line(PullProgress("pulling a", "sha256:a", 100, 10), 61.0)
'stalled'
>>> watch.line(PullProgress("pulling a", "sha256:a", 100, 5), 62.0)
'backwards'
>>> watch.line(PullProgress("verifying sha256 digest"), 500.0) is None
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from ollama_webmgr.ollama.payloads import PullProgress
from ollama_webmgr.ollama.wire import Stream

Verdict = Literal["stalled", "backwards"]
STALLED: Verdict = "stalled"
BACKWARDS: Verdict = "backwards"
#: the status line a restart reports (``french.wording`` says it in French)
RESTART_STATUS = "restarting pull"
#: a stall is noticed within this share of the window (and a cancel within a second)
_POLL = 1.0


@dataclass(frozen=True)
class WatchdogPolicy:
    """How long bytes may stay flat, and how many restarts before giving up."""

    stall_timeout: float = 60.0
    max_restarts: int = 3

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> WatchdogPolicy:
        return cls(
            stall_timeout=float(params.get("pull_stall_timeout", 60.0)),
            max_restarts=int(params.get("pull_max_restarts", 3)),
        )


@dataclass
class ByteWatch:
    """The byte count of one attempt against time (thread-safe)."""

    window: float
    since: float  # when the count last grew (or the attempt began)
    armed: bool = True
    _blobs: dict[str, int] = field(default_factory=dict)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def line(self, item: PullProgress, now: float) -> Verdict | None:
        """Record one line; the verdict when this attempt should be restarted."""
        with self._lock:
            if not item.digest:
                # past the downloads, Ollama may say nothing for minutes: not a stall
                self.armed = self.armed and item.status == "pulling manifest"
                return self._stalled(now)
            self._blobs[item.digest] = item.completed
            count = sum(self._blobs.values())
            if count < self._count:
                return BACKWARDS
            if count > self._count:
                self._count, self.since = count, now
            return self._stalled(now)

    def stalled(self, now: float) -> bool:
        with self._lock:
            return self._stalled(now) is not None

    def left(self, now: float) -> float:
        """Seconds until a stall, if nothing grows meanwhile."""
        with self._lock:
            return self.since + self.window - now

    def _stalled(self, now: float) -> Verdict | None:
        return STALLED if self.armed and now - self.since >= self.window else None


class Guard:
    """A helper thread that cuts an attempt's stream on a stall or a cancel.

    Used as a context manager: the thread is joined on the way out, so none is
    left behind whatever ended the attempt.
    """

    def __init__(
        self,
        watch: ByteWatch,
        stream: Stream[PullProgress],
        cancelled: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verdict: Verdict | None = None
        self._watch = watch
        self._stream = stream
        self._cancelled = cancelled
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="webmgr-pull-watchdog", daemon=True
        )

    def __enter__(self) -> Guard:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._pause()):
            if self._watch.stalled(self._clock()):
                self.verdict = STALLED
            elif not self._cancelled():
                continue
            self._stream.abort()
            return

    def _pause(self) -> float:
        left = self._watch.left(self._clock())
        return min(_POLL, max(0.01, left)) if self._watch.armed else _POLL
