"""Speed, ETA and thinning of progress reports."""

from __future__ import annotations

import pytest

from ollama_webmgr.jobs.context import ProgressTracker, SpeedMeter


def test_speed_is_bytes_per_second_over_the_window_and_eta_follows() -> None:
    meter = SpeedMeter(window=5.0)
    meter.add(0.0, 0, 10_000, "a")
    meter.add(1.0, 1_000, 10_000, "a")
    speed, eta = meter.add(2.0, 2_000, 10_000, "a")
    assert speed == pytest.approx(1_000.0)
    assert eta == pytest.approx(8.0)


def test_old_samples_leave_the_window() -> None:
    meter = SpeedMeter(window=2.0)
    meter.add(0.0, 0, None, "a")
    meter.add(1.0, 10_000, None, "a")  # a fast start ...
    meter.add(2.0, 10_100, None, "a")
    speed, eta = meter.add(4.0, 10_300, None, "a")  # ... then 100 B/s
    assert speed == pytest.approx(100.0)
    assert eta is None  # no total, no ETA


def test_a_new_layer_restarts_the_measure() -> None:
    meter = SpeedMeter()
    meter.add(0.0, 0, 100, "a")
    meter.add(1.0, 100, 100, "a")
    assert meter.add(1.5, 0, 500, "b") == (None, None)


def test_tracker_adds_fraction_speed_and_eta_to_progress_events() -> None:
    now = [0.0]
    tracker = ProgressTracker(min_interval=0.0, clock=lambda: now[0])
    tracker.update("progress", {"status": "pulling x", "completed": 0, "total": 400})
    now[0] = 2.0
    data = tracker.update(
        "progress", {"status": "pulling x", "completed": 100, "total": 400}
    )
    assert data is not None
    assert data["fraction"] == 0.25
    assert data["speed"] == pytest.approx(50.0)
    assert data["eta"] == pytest.approx(6.0)
    assert tracker.snapshot.speed == pytest.approx(50.0)
    assert tracker.snapshot.status == "pulling x"


def test_tracker_thins_bursts_but_keeps_the_last_update_of_a_layer() -> None:
    now = [0.0]
    tracker = ProgressTracker(min_interval=0.1, clock=lambda: now[0])
    sent = []
    for completed in range(0, 1001, 10):
        now[0] += 0.001
        data = tracker.update(
            "progress",
            {"status": "s", "digest": "d", "completed": completed, "total": 1000},
        )
        if data is not None:
            sent.append(data["completed"])
    assert sent == [0, 1000]
    assert tracker.snapshot.completed == 1000


def test_tasks_cannot_report_terminal_events() -> None:
    with pytest.raises(ValueError, match="returning or raising"):
        ProgressTracker().update("done", {})
