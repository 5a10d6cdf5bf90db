"""Pure selection policy over plain data."""

from __future__ import annotations

from ollama_webmgr.gateway.balancer import ServerView, rank


def names(views):
    return [v.name for v in views]


def test_least_in_flight_orders_by_load():
    views = [
        ServerView("a", in_flight=3),
        ServerView("b", in_flight=1),
        ServerView("c", in_flight=2),
    ]
    assert names(rank(views, "least_in_flight")) == ["b", "c", "a"]


def test_least_in_flight_compares_load_relative_to_each_limit():
    views = [
        ServerView("small", in_flight=1, limit=2),
        ServerView("big", in_flight=2, limit=8),
    ]
    assert names(rank(views, "least_in_flight")) == ["big", "small"]


def test_round_robin_rotates_with_the_turn():
    views = [ServerView("a"), ServerView("b"), ServerView("c")]
    assert [names(rank(views, "round_robin", turn=t))[0] for t in range(4)] == [
        "a",
        "b",
        "c",
        "a",
    ]


def test_weighted_prefers_higher_weight_then_lower_load():
    views = [
        ServerView("a", weight=1),
        ServerView("b", weight=5, in_flight=2),
        ServerView("c", weight=5),
    ]
    assert names(rank(views, "weighted")) == ["c", "b", "a"]


def test_latency_prefers_fastest_first_token_and_measures_unknown_servers_first():
    views = [
        ServerView("slow", ttft_avg=0.9),
        ServerView("new"),
        ServerView("fast", ttft_avg=0.1),
    ]
    assert names(rank(views, "latency")) == ["new", "fast", "slow"]


def test_prefers_server_with_model_loaded_whatever_the_strategy():
    views = [ServerView("a"), ServerView("b", model_loaded=True, in_flight=3)]
    for strategy in ("least_in_flight", "round_robin", "weighted", "latency"):
        assert names(rank(views, strategy))[0] == "b"


def test_full_servers_come_after_servers_with_free_capacity():
    views = [
        ServerView("loaded-full", model_loaded=True, in_flight=1, limit=1),
        ServerView("free"),
    ]
    assert names(rank(views)) == ["free", "loaded-full"]


def test_sticky_server_goes_first_and_falls_back_when_unusable():
    views = [ServerView("a"), ServerView("b", in_flight=4)]
    assert names(rank(views, sticky="b")) == ["b", "a"]
    down = [ServerView("a"), ServerView("b", healthy=False)]
    assert names(rank(down, sticky="b")) == ["a"]


def test_drained_unhealthy_and_modelless_servers_are_excluded():
    views = [
        ServerView("drained", draining=True),
        ServerView("down", healthy=False),
        ServerView("empty", has_model=False),
        ServerView("ok"),
    ]
    assert names(rank(views)) == ["ok"]
    assert rank([ServerView("down", healthy=False)]) == []
