"""Pure selection policy: plain data in, ordered candidates out.

Only enabled, healthy, non-draining servers that have the model are candidates.
They are ordered in four groups: servers with free capacity where the model is
already loaded, then those with capacity, then full ones (loaded first again);
inside a group the strategy decides. A sticky server, when it is a candidate,
goes first.

>>> views = [
...     ServerView("a", in_flight=2, has_model=True),
...     ServerView("b", in_flight=0, has_model=True),
...     ServerView("c", in_flight=0, has_model=False),
... ]
>>> [v.name for v in rank(views)]
['b', 'a']
>>> [v.name for v in rank(views, sticky="a")]
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["least_in_flight", "round_robin", "weighted", "latency"]
STRATEGIES: tuple[Strategy, ...] = (
    "least_in_flight",
    "round_robin",
    "weighted",
    "latency",
)


@dataclass(frozen=True, slots=True)
class ServerView:
    name: str
    url: str = ""
    healthy: bool = True
    draining: bool = False
    in_flight: int = 0
    limit: int = 0  # 0: unlimited
    weight: int = 1
    ttft_avg: float | None = None  # seconds; None: never measured
    has_model: bool = True
    model_loaded: bool = False

    @property
    def usable(self) -> bool:
        return self.healthy and not self.draining and self.has_model

    @property
    def has_capacity(self) -> bool:
        return self.limit == 0 or self.in_flight < self.limit


def rank(
    views: Sequence[ServerView],
    strategy: Strategy = "least_in_flight",
    *,
    sticky: str | None = None,
    turn: int = 0,
) -> list[ServerView]:
    """Ordered candidates for one request; ``turn`` drives round-robin."""
    usable = [v for v in views if v.usable]
    ordered = _ORDERS[strategy](usable, turn)
    # sorted() is stable: the strategy's order survives inside each group
    ordered = sorted(ordered, key=lambda v: (not v.has_capacity, not v.model_loaded))
    if sticky is not None:
        ordered.sort(key=lambda v: v.name != sticky)
    return ordered


def _least_in_flight(views: list[ServerView], turn: int) -> list[ServerView]:
    return sorted(views, key=lambda v: (_load(v), -v.weight))


def _round_robin(views: list[ServerView], turn: int) -> list[ServerView]:
    if not views:
        return []
    start = turn % len(views)
    return views[start:] + views[:start]


def _weighted(views: list[ServerView], turn: int) -> list[ServerView]:
    return sorted(views, key=lambda v: (-v.weight, _load(v)))


def _latency(views: list[ServerView], turn: int) -> list[ServerView]:
    # Unmeasured servers go first so that each one gets a measurement.
    return sorted(
        views,
        key=lambda v: (v.ttft_avg is not None, v.ttft_avg or 0.0, _load(v)),
    )


def _load(view: ServerView) -> float:
    return view.in_flight / view.limit if view.limit else float(view.in_flight)


_ORDERS: dict[Strategy, Callable[[list[ServerView], int], list[ServerView]]] = {
    "least_in_flight": _least_in_flight,
    "round_robin": _round_robin,
    "weighted": _weighted,
    "latency": _latency,
}
