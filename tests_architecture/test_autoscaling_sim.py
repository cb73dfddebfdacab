"""The autoscaling simulation replays KEDA's and the HPA's rules, and the README quotes it."""

from __future__ import annotations

import dataclasses
import math

import pytest
from autoscaling_rules import Hpa, Policy, Rules, ScaledObject, keda_poll, metric_replicas
from autoscaling_sim import (
    BURSTS,
    POD_START_SECONDS,
    README,
    Run,
    load_manifests,
    readme_quote,
    simulate,
    workload_for,
)
from k8s_support import by_key, rendered

NAMES = sorted(BURSTS)


def _spec(name: str) -> ScaledObject:
    return ScaledObject.from_manifest(load_manifests()[f"ScaledObject/{name}"])


def _run(name: str) -> Run:
    spec = _spec(name)
    return simulate(spec, workload_for(load_manifests()[f"Deployment/{spec.target}"]), BURSTS[name])


def test_the_simulation_reads_the_rendered_settings() -> None:
    for name in NAMES:
        assert ScaledObject.from_manifest(by_key(rendered())[f"ScaledObject/{name}"]) == _spec(name)


def test_the_hpa_proposal_is_queue_length_over_value_outside_the_tolerance() -> None:
    assert metric_replicas(2, 20_000, 200) == 100
    assert metric_replicas(4, 840, 200) == 4  # 5 % off target: within the 10 % tolerance
    assert metric_replicas(4, 0, 200) == 0


def test_scale_up_is_limited_by_the_faster_policy_per_period() -> None:
    spec = dataclasses.replace(_spec("courier-worker-critical"), max_replicas=100)
    hpa = Hpa(spec)
    assert hpa.sync(15, 2, 20_000) == 6  # +4 pods beats +100 % from 2
    assert hpa.sync(30, 6, 20_000) == 12  # +100 % beats +4 from 6
    assert hpa.sync(45, 12, 20_000) == 24


def test_scale_down_waits_for_the_stabilization_window_then_follows_the_policy() -> None:
    spec = dataclasses.replace(
        _spec("courier-worker-critical"),
        scale_down=Rules(300, (Policy("Percent", 50, 60),)),
    )
    hpa = Hpa(spec)
    assert hpa.sync(15, 2, 2_000) == 6
    assert hpa.sync(30, 6, 2_000) == 10
    for now in range(45, 330, 15):  # empty queue, but a 10 was recommended at t=30
        assert hpa.sync(now, 10, 0) == 10
    assert hpa.sync(330, 10, 0) == 5  # the window has passed: at most 50 % per minute
    assert hpa.sync(345, 5, 0) == 5
    assert hpa.sync(390, 5, 0) == 2  # the next minute: 50 % of 5, but never below the minimum


def test_keda_wakes_from_zero_and_returns_to_zero_only_after_the_cooldown() -> None:
    spec = _spec("courier-worker-bulk")
    assert spec.min_replicas == 0
    assert keda_poll(spec, current=0, metric=1, idle_seconds=0) == 1
    assert keda_poll(spec, current=3, metric=0, idle_seconds=spec.cooldown_seconds) == 3
    assert keda_poll(spec, current=3, metric=0, idle_seconds=spec.cooldown_seconds + 1) == 0


@pytest.mark.parametrize("name", NAMES)
def test_a_burst_drains_faster_than_the_minimum_would(name: str) -> None:
    run = _run(name)
    spec = run.spec
    assert run.drained_at is not None
    floor = max(spec.min_replicas, 1)
    at_minimum = POD_START_SECONDS * (spec.min_replicas == 0) + run.burst / (
        floor * run.workload.drain_rate
    )
    assert run.drained_at < at_minimum
    assert run.settled_at is not None, "it never came back to its minimum"


@pytest.mark.parametrize("name", NAMES)
def test_replicas_stay_within_bounds_and_change_only_on_a_sync_or_poll(name: str) -> None:
    run = _run(name)
    spec = run.spec
    assert max(row[3] for row in run.rows) == spec.max_replicas
    previous = spec.min_replicas
    for second, _, _, asked, consuming in run.rows:
        assert spec.min_replicas <= asked <= spec.max_replicas
        assert consuming <= max(asked, previous)
        if asked != previous:
            assert second % 15 == 0 or second % spec.polling_seconds == 0
        previous = asked


@pytest.mark.parametrize("name", NAMES)
def test_scale_down_never_goes_below_a_recent_recommendation(name: str) -> None:
    run = _run(name)
    window, value = run.spec.scale_down.stabilization_seconds, run.spec.value
    proposals = {t: math.ceil(queue / value) for t, queue, *_ in run.rows if t and t % 15 == 0}
    downs = [(t, asked) for t, *_, asked, _ in run.rows[1:] if asked < run.rows[t - 1][3]]
    assert downs, "it never scaled down"
    for second, asked in downs:
        if asked == 0:  # KEDA's own step (next test)
            continue
        recent = [n for t, n in proposals.items() if second - window < t <= second]
        assert max(recent) <= asked, f"at {second} s: down to {asked}, recommended {max(recent)}"
    assert run.drained_at is not None
    assert downs[0][0] > run.drained_at


def test_the_last_pod_goes_only_after_the_cooldown() -> None:
    run = _run("courier-worker-bulk")
    drained, settled = run.drained_at, run.settled_at
    assert drained is not None
    assert settled is not None
    assert settled - drained > run.spec.cooldown_seconds


def test_the_readme_quotes_the_current_simulation() -> None:
    assert readme_quote() in README.read_text(), (
        "infra/k8s/README.md quotes an outdated simulation: run "
        "`.venv/bin/python infra/k8s/tools/autoscaling_sim.py --write-readme`"
    )
