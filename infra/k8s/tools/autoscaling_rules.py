"""KEDA's and the HPA's scaling rules, as the simulation replays them.

Read from their sources: the HPA's replica count for an ``AverageValue``
external metric (``GetExternalPerPodMetricReplicas`` in Kubernetes'
``pkg/controller/podautoscaler/replica_calculator.go``, tolerance 0.1),
its behaviour normalisation (``stabilizeRecommendationWithBehaviors`` and
``convertDesiredReplicasWithBehaviorRate`` in ``horizontal.go``), and KEDA's
activation and scale to zero (``RequestScale`` in KEDA v2.20's
``pkg/scaling/executor/scale_scaledobjects.go``). KEDA's HPA has
``minReplicas = max(minReplicaCount, 1)``; only KEDA takes a deployment to 0
and back, on its polling interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

HPA_SYNC_SECONDS = 15  # kube-controller-manager --horizontal-pod-autoscaler-sync-period
HPA_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
KEDA_DEFAULT_POLLING_SECONDS = 30
KEDA_DEFAULT_COOLDOWN_SECONDS = 300


@dataclass(frozen=True)
class Policy:
    """One HPA scaling policy: at most ``value`` pods (or percent) per ``period_seconds``."""

    kind: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class Rules:
    """The HPA behaviour in one direction."""

    stabilization_seconds: int
    policies: tuple[Policy, ...]
    select: Literal["Max", "Min", "Disabled"] = "Max"

    @classmethod
    def from_manifest(cls, behavior: dict[str, Any] | None, default: Rules) -> Rules:
        if not behavior:
            return default
        policies = behavior.get("policies")
        for policy in policies or []:
            if policy["type"] not in ("Pods", "Percent"):
                raise ValueError(f"HPA policy type must be Pods or Percent, not {policy['type']!r}")
        return cls(
            stabilization_seconds=behavior.get(
                "stabilizationWindowSeconds", default.stabilization_seconds
            ),
            policies=tuple(Policy(p["type"], p["value"], p["periodSeconds"]) for p in policies)
            if policies
            else default.policies,
            select=behavior.get("selectPolicy", "Max"),
        )


#: The HPA's defaults (autoscaling/v2 HPAScalingRules).
DEFAULT_SCALE_UP = Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)))
DEFAULT_SCALE_DOWN = Rules(300, (Policy("Percent", 100, 15),))


@dataclass(frozen=True)
class ScaledObject:
    """What of a KEDA ScaledObject with one rabbitmq ``QueueLength`` trigger decides scaling."""

    name: str
    target: str
    queue: str
    min_replicas: int
    max_replicas: int
    value: float  # queue length per replica
    activation: float
    polling_seconds: int
    cooldown_seconds: int
    counts_unacked: bool  # http without excludeUnacknowledged; amqp sees ready messages only
    scale_up: Rules
    scale_down: Rules

    @classmethod
    def from_manifest(cls, doc: dict[str, Any]) -> ScaledObject:
        spec = doc["spec"]
        (trigger,) = spec["triggers"]
        meta = trigger["metadata"]
        if trigger["type"] != "rabbitmq" or meta.get("mode") != "QueueLength":
            raise ValueError(f"{doc['metadata']['name']}: not a rabbitmq QueueLength trigger")
        behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
        behavior = behavior.get("behavior", {})
        return cls(
            name=doc["metadata"]["name"],
            target=spec["scaleTargetRef"]["name"],
            queue=meta["queueName"],
            min_replicas=spec.get("minReplicaCount", 0),
            max_replicas=spec.get("maxReplicaCount", 100),
            value=float(meta["value"]),
            activation=float(meta.get("activationValue", 0)),
            polling_seconds=spec.get("pollingInterval", KEDA_DEFAULT_POLLING_SECONDS),
            cooldown_seconds=spec.get("cooldownPeriod", KEDA_DEFAULT_COOLDOWN_SECONDS),
            counts_unacked=meta.get("protocol") == "http"
            and meta.get("excludeUnacknowledged", "false") != "true",
            scale_up=Rules.from_manifest(behavior.get("scaleUp"), DEFAULT_SCALE_UP),
            scale_down=Rules.from_manifest(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN),
        )


def metric_replicas(current: int, queue_length: float, value: float) -> int:
    """The HPA's raw proposal for an AverageValue metric: ceil(total / value), outside tolerance."""
    ratio = queue_length / (value * current)
    if abs(1.0 - ratio) <= HPA_TOLERANCE:
        return current
    return math.ceil(queue_length / value)


@dataclass
class Hpa:
    """The HPA KEDA creates for one ScaledObject: stabilization, rate policies, bounds."""

    spec: ScaledObject
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_events: list[tuple[float, int]] = field(default_factory=list)  # (time, +/- pods)

    def sync(self, now: float, current: int, queue_length: float) -> int:
        """The replica count after one sync at ``now`` (``current`` when nothing changes)."""
        if current == 0:  # scaled to zero by KEDA: the HPA stands aside
            return 0
        low, high = max(self.spec.min_replicas, 1), self.spec.max_replicas
        if current > high:
            return self._record(now, current, high)
        if current < low:
            return self._record(now, current, low)
        proposal = metric_replicas(current, queue_length, self.spec.value)
        stabilized = self._stabilize(now, current, proposal)
        return self._record(now, current, self._limit_rate(now, current, stabilized, low, high))

    def _stabilize(self, now: float, current: int, proposal: int) -> int:
        up = self.spec.scale_up.stabilization_seconds
        down = self.spec.scale_down.stabilization_seconds
        up_recommendation = down_recommendation = proposal
        for at, recommended in self.recommendations:
            if at > now - up:
                up_recommendation = min(up_recommendation, recommended)
            if at > now - down:
                down_recommendation = max(down_recommendation, recommended)
        self.recommendations = [r for r in self.recommendations if r[0] > now - max(up, down)]
        self.recommendations.append((now, proposal))
        return min(max(current, up_recommendation), down_recommendation)

    def _limit_rate(self, now: float, current: int, desired: int, low: int, high: int) -> int:
        if desired > current:
            fastest = max(self._limit(now, current, self.spec.scale_up, +1), current)
            return min(desired, high, fastest)
        if desired < current:
            fastest = min(self._limit(now, current, self.spec.scale_down, -1), current)
            return max(desired, low, fastest)
        return desired

    def _limit(self, now: float, current: int, rules: Rules, sign: int) -> int:
        if rules.select == "Disabled":
            return current
        proposals = []
        for policy in rules.policies:
            window = [delta for at, delta in self.scale_events if at > now - policy.period_seconds]
            at_start = current - sum(window)  # replicas when this policy's period began
            if policy.kind == "Pods":
                proposals.append(at_start + sign * policy.value)
            elif sign > 0:
                proposals.append(math.ceil(at_start * (1 + policy.value / 100)))
            else:
                proposals.append(int(at_start * (1 - policy.value / 100)))
        # "Max" picks the policy that allows the largest change, in either direction.
        largest_change = max if (rules.select == "Max") == (sign > 0) else min
        return largest_change(proposals)

    def _record(self, now: float, current: int, desired: int) -> int:
        if desired != current:
            self.scale_events.append((now, desired - current))
        return desired


def keda_poll(spec: ScaledObject, *, current: int, metric: float, idle_seconds: float) -> int:
    """KEDA's own step on its polling interval: wake from zero, or go to zero after the cooldown."""
    if metric > spec.activation:
        return max(spec.min_replicas, 1) if current == 0 else current
    if current > 0 and spec.min_replicas == 0 and idle_seconds > spec.cooldown_seconds:
        return 0
    if current < spec.min_replicas:
        return spec.min_replicas
    return current
