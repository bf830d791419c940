"""Where an app's instances run: on nodes hosting every sensor and actuator it binds, least loaded first.

Pure logic, no I/O: :func:`place` takes what an app needs and a view of every candidate node, and returns a
:class:`Decision` that explains itself, one :class:`Candidate` per node with a human reason. The caller
chooses the candidate nodes (the gateways of the app's tenant) and keeps the instance counts.

The rules:

- A node qualifies when it is available (online, enabled, healthy: its latest heartbeat is recent), carries every
  ``[placement] node_labels`` pair, and hosts every binding: ``count`` distinct enabled sensors (or
  actuators) of the binding's ``type``, at its ``location`` if given, carrying all its ``labels``. One sensor
  never serves two bindings of the same app: bindings of the same type are matched jointly (a maximum
  bipartite matching), so a specific binding is not starved by a general one that took its sensor.
- Sensors in state ``error`` or ``starting`` still count (a driver's transient failure must not move apps);
  disabled ones do not.
- Actuators: the heartbeat has no field for them, so an actuator is an entry of the heartbeat's sensor list
  that carries the label ``kind = "actuator"`` (:data:`ACTUATOR_LABEL`, set in the agent's sensor config,
  no contract change). Actuator bindings match only such entries, sensor bindings only the others.
- Ranking (:func:`load_score`, lower is better): ``load1 / cores + mem_used_pct / 100 + 0.25 x instances``.
  Cores default to 1 (heartbeats do not report them yet); an unreported load or memory counts as full (1.0),
  so a node that reports its figures wins against one that does not. Ties are broken by node id.
- Spreading: the first ``replicas`` qualifying nodes by rank get one instance each. When fewer nodes
  qualify, the rest go one by one to the node whose score, counting the instances placed so far, is lowest:
  ``chosen`` then repeats node ids and always has ``replicas`` entries when any node qualifies.
- With no qualifying node ``chosen`` is empty and :attr:`Decision.reason` summarises why (the deployment
  stays ``pending`` with it).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from contracts.apps import AppManifest, Binding, Placement
from contracts.devices import Device, DeviceKind, DeviceStatus
from contracts.nodes import Heartbeat
from hub.deploy.health import NodeHealth
from hub.store.nodes import HeartbeatRecord

#: A heartbeat sensor entry with this label is an actuator.
ACTUATOR_LABEL = ("kind", "actuator")
#: Score added per instance already running on the node.
INSTANCE_WEIGHT = 0.25
#: Score of an unreported load1 (per core) or memory share.
UNKNOWN_LOAD = 1.0
#: Reasons listed in a pending decision's summary.
SUMMARY_REASONS = 3

Kind = Literal["sensor", "actuator"]


@dataclass(frozen=True, slots=True)
class SensorView:
    """A sensor or actuator as a node reports it."""

    name: str
    type: str
    location: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class NodeView:
    """What placement knows of one node. Build it from the hub's records with :func:`node_view`.

    ``unavailable`` is the health flag: ``None`` when the node can take instances, else why not
    (``"offline"``, ``"disabled"``, ``"no heartbeat yet"``).
    """

    id: str
    sensors: tuple[SensorView, ...] = ()
    actuators: tuple[SensorView, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    unavailable: str | None = None
    load1: float | None = None
    cores: int | None = None
    mem_used_pct: float | None = None
    instances: int = 0
    _by_type: dict[tuple[Kind, str], tuple[SensorView, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # Matching looks sensors up by type once per binding; index them once per view.
        index: dict[tuple[Kind, str], list[SensorView]] = {}
        kinds: list[tuple[Kind, tuple[SensorView, ...]]] = [("sensor", self.sensors), ("actuator", self.actuators)]
        for kind, entries in kinds:
            for entry in entries:
                index.setdefault((kind, entry.type), []).append(entry)
        object.__setattr__(self, "_by_type", {key: tuple(value) for key, value in index.items()})

    def of_type(self, kind: Kind, type_: str) -> tuple[SensorView, ...]:
        """The node's sensors (or actuators) of one type, enabled or not."""
        return self._by_type.get((kind, type_), ())


def node_view(
    device: Device,
    heartbeat: Heartbeat | HeartbeatRecord | None,
    *,
    instances: int = 0,
    health: NodeHealth = NodeHealth.HEALTHY,
) -> NodeView:
    """The view of a node from its device record and latest heartbeat (as the node store keeps it).

    Args:
        device: The gateway's registry record: id, labels, enabled and online status.
        heartbeat: Its latest heartbeat, parsed or as stored; ``None`` if it never sent one.
        instances: App instances the hub has placed on it.
        health: From the age of its latest heartbeat: a suspect or dead node takes no instances.
    """
    beat = Heartbeat.model_validate(heartbeat.doc) if isinstance(heartbeat, HeartbeatRecord) else heartbeat
    unavailable = None
    if not device.enabled:
        unavailable = "disabled"
    elif device.kind is not DeviceKind.GATEWAY:
        unavailable = "not a gateway"
    elif device.status is not DeviceStatus.ONLINE:
        unavailable = "offline"
    elif beat is None:
        unavailable = "no heartbeat yet"
    elif health is not NodeHealth.HEALTHY:
        unavailable = f"{health.value}: no recent heartbeat"
    sensors: list[SensorView] = []
    actuators: list[SensorView] = []
    for info in beat.sensors if beat is not None else ():
        if info.type is None:  # nothing to match a binding against
            continue
        view = SensorView(info.name, info.type, info.location, info.labels, info.enabled and info.state != "disabled")
        (actuators if info.labels.get(ACTUATOR_LABEL[0]) == ACTUATOR_LABEL[1] else sensors).append(view)
    return NodeView(
        id=device.id,
        sensors=tuple(sensors),
        actuators=tuple(actuators),
        labels=dict(device.labels),
        unavailable=unavailable,
        load1=beat.load1 if beat is not None else None,
        mem_used_pct=beat.mem_used_pct if beat is not None else None,
        instances=instances,
    )


@dataclass(frozen=True, slots=True)
class Needs:
    """What an app asks of a node: its bindings and ``[placement]``, with the deployment's replicas."""

    sensors: tuple[Binding, ...] = ()
    actuators: tuple[Binding, ...] = ()
    placement: Placement = field(default_factory=Placement)
    replicas: int | None = None

    @classmethod
    def of(cls, manifest: AppManifest, replicas: int | None = None) -> Needs:
        """The needs of a manifest; ``replicas`` (the deployment's) overrides ``[placement] replicas``."""
        return cls(tuple(manifest.sensors), tuple(manifest.actuators), manifest.placement, replicas)

    @property
    def wanted(self) -> int:
        return self.replicas if self.replicas is not None else self.placement.replicas


@dataclass(frozen=True, slots=True)
class Candidate:
    """One node's part in a decision: whether it qualifies, why (not), and its rank among those that do."""

    node: str
    accepted: bool
    reason: str
    rank: int | None
    score: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Where to run the instances: ``chosen`` node ids (empty: pending, see ``reason``) and every candidate.

    Candidates are listed accepted first by rank, then rejected by node id.
    """

    chosen: list[str]
    candidates: list[Candidate]
    reason: str

    @property
    def pending(self) -> bool:
        return not self.chosen


def load_score(node: NodeView, extra_instances: int = 0) -> float:
    """How loaded a node is, lower is better: CPU per core, memory share and instances (module docstring)."""
    cpu = node.load1 / (node.cores or 1) if node.load1 is not None else UNKNOWN_LOAD
    mem = node.mem_used_pct / 100 if node.mem_used_pct is not None else UNKNOWN_LOAD
    return cpu + mem + INSTANCE_WEIGHT * (node.instances + extra_instances)


def place(needs: Needs, nodes: Iterable[NodeView]) -> Decision:
    """Decide where the app's instances run; see the module docstring for the rules."""
    bindings = _Bindings(needs)
    accepted: list[tuple[float, str, NodeView]] = []
    rejected: list[tuple[str, list[str], float]] = []
    for node in nodes:
        problems = _problems(node, needs.placement.node_labels, bindings)
        if problems:
            rejected.append((node.id, problems, load_score(node)))
        else:
            accepted.append((load_score(node), node.id, node))
    accepted.sort(key=lambda entry: (entry[0], entry[1]))
    rejected.sort(key=lambda entry: entry[0])
    replicas = needs.wanted
    chosen = _spread([node for _, _, node in accepted], replicas)
    total = len(accepted)
    candidates = [
        Candidate(
            node_id,
            True,
            f"chosen: rank {rank} of {total}"
            if rank <= replicas
            else f"qualifies (rank {rank} of {total}); {replicas} replica(s) went to better-ranked nodes",
            rank,
            score,
        )
        for rank, (score, node_id, _) in enumerate(accepted, 1)
    ]
    candidates += [Candidate(node_id, False, "; ".join(problems), None, score) for node_id, problems, score in rejected]
    if chosen:
        reason = f"{replicas} replica(s) on {len(set(chosen))} node(s)"
    else:
        reason = _summary(len(rejected), (p for _, problems, _ in rejected for p in problems))
    return Decision(chosen, candidates, reason)


def _spread(ranked: Sequence[NodeView], replicas: int) -> list[str]:
    """One instance per node by rank; beyond the nodes, each next one to the least loaded counting those."""
    chosen = [node.id for node in ranked[:replicas]]
    if not ranked or len(chosen) == replicas:
        return chosen
    # The index breaks ties of equal ids too, so entries never compare views.
    heap = [(load_score(node, 1), node.id, i, 1) for i, node in enumerate(ranked)]
    heapq.heapify(heap)
    for _ in range(replicas - len(chosen)):
        _, node_id, i, placed = heap[0]
        chosen.append(node_id)
        heapq.heapreplace(heap, (load_score(ranked[i], placed + 1), node_id, i, placed + 1))
    return chosen


def _summary(nodes: int, problems: Iterable[str]) -> str:
    if nodes == 0:
        return "no node qualifies: there are no nodes to place on"
    counts = Counter(problems).most_common()
    shown = "; ".join(f"{problem} ({n} node{'s' if n != 1 else ''})" for problem, n in counts[:SUMMARY_REASONS])
    more = f"; and {len(counts) - SUMMARY_REASONS} more reasons" if len(counts) > SUMMARY_REASONS else ""
    return f"no node qualifies among {nodes}: {shown}{more}"


class _Bindings:
    """An app's bindings, grouped by (kind, type): only bindings of one group compete for sensors."""

    def __init__(self, needs: Needs) -> None:
        groups: dict[tuple[Kind, str], list[Binding]] = {}
        kinds: tuple[tuple[Kind, tuple[Binding, ...]], ...] = (("sensor", needs.sensors), ("actuator", needs.actuators))
        for kind, entries in kinds:
            for binding in entries:
                groups.setdefault((kind, binding.type), []).append(binding)
        # Most nodes lack a type altogether: their reasons are worded once per decision, not once per node.
        self.groups: list[tuple[tuple[Kind, str], tuple[Binding, ...], list[str]]] = [
            (key, tuple(group), [_shortage(key[0], binding, 0, 0) for binding in group])
            for key, group in groups.items()
        ]
        self._texts: dict[tuple[Kind, int, int, int], str] = {}

    def shortage(self, kind: Kind, binding: Binding, found: int, disabled: int) -> str:
        """:func:`_shortage`, worded once per decision for each case."""
        key = (kind, id(binding), found, disabled)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = _shortage(kind, binding, found, disabled)
        return text


def _problems(node: NodeView, node_labels: Mapping[str, str], bindings: _Bindings) -> list[str]:
    """Every unmet need of the app on this node, in words; empty when the node qualifies."""
    problems = [node.unavailable] if node.unavailable is not None else []
    for label, wanted in node_labels.items():
        has = node.labels.get(label)
        if has != wanted:
            found = f"has {label}={has}" if has is not None else f"has no {label}"
            problems.append(f"node label {label}={wanted} wanted, {found}")
    by_type = node._by_type
    for key, group, absent in bindings.groups:
        entries = by_type.get(key)
        if entries is None:
            problems += absent
            continue
        options: list[list[int]] = []
        short = False
        for binding in group:
            serving: list[int] = []
            disabled = 0
            for i, entry in enumerate(entries):
                if _fits(entry, binding):
                    if entry.enabled:
                        serving.append(i)
                    else:
                        disabled += 1
            options.append(serving)
            if len(serving) < binding.count:
                short = True
                problems.append(bindings.shortage(key[0], binding, len(serving), disabled))
        if not short and len(group) > 1:
            slots = sum(b.count for b in group)
            matched = len(_matching(group, options))
            if matched < slots:
                binds = ", ".join(b.bind for b in group)
                problems.append(f"{slots} distinct {key[1]} {key[0]}s wanted for {binds}, {matched} found")
    return problems


def _fits(sensor: SensorView, binding: Binding) -> bool:
    return (binding.location is None or sensor.location == binding.location) and (
        binding.labels.items() <= sensor.labels.items()
    )


def _shortage(kind: Kind, binding: Binding, found: int, disabled: int) -> str:
    """Too few sensors for one binding: ``found`` enabled ones serve it, ``disabled`` more would."""
    where = f" at {binding.location}" if binding.location is not None else ""
    if binding.labels:
        where += " with " + ", ".join(f"{k}={v}" for k, v in binding.labels.items())
    note = f" ({disabled} disabled)" if disabled else ""
    if binding.count == 1:
        return f"no {binding.type} {kind}{where}{note}"
    return f"{binding.count} {binding.type} {kind}s{where} wanted, {found} found{note}"


def assign(needs: Needs, node: NodeView) -> dict[Kind, dict[str, list[str]]]:
    """Which of a qualifying node's sensors and actuators serve each binding, by bind name.

    The same joint matching as placement, so a node that qualifies gets every binding filled; on a node that
    does not, a binding gets what could be matched (possibly nothing).
    """
    bound: dict[Kind, dict[str, list[str]]] = {"sensor": {}, "actuator": {}}
    for key, group, _ in _Bindings(needs).groups:
        entries = node.of_type(*key)
        options = [[i for i, entry in enumerate(entries) if entry.enabled and _fits(entry, b)] for b in group]
        slot_binding = [binding.bind for binding in group for _ in range(binding.count)]
        for sensor, slot in sorted(_matching(group, options).items()):
            bound[key[0]].setdefault(slot_binding[slot], []).append(entries[sensor].name)
        for binding in group:
            bound[key[0]].setdefault(binding.bind, [])
    return bound


def _matching(group: Sequence[Binding], options: Sequence[Sequence[int]]) -> dict[int, int]:
    """Distinct sensors for as many of the group's slots (``count`` per binding) as possible (Kuhn's algorithm).

    ``options`` holds, per binding, the indices of the sensors that can serve it; the result maps each matched
    sensor index to its slot (the bindings' slots in order, ``count`` each).
    """
    slots = [serving for binding, serving in zip(group, options, strict=True) for _ in range(binding.count)]
    owner: dict[int, int] = {}  # sensor index -> slot

    def augment(slot: int, seen: set[int]) -> bool:
        for sensor in slots[slot]:
            if sensor in seen:
                continue
            seen.add(sensor)
            if sensor not in owner or augment(owner[sensor], seen):
                owner[sensor] = slot
                return True
        return False

    for slot in range(len(slots)):
        augment(slot, set())
    return owner
