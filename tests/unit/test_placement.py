"""Placement: which nodes qualify for an app, why the others do not, and how replicas spread by load."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.apps import Binding, Placement
from contracts.devices import Device, DeviceKind, DeviceStatus
from contracts.nodes import Heartbeat, SensorInfo, SpoolInfo
from hub.deploy.placement import (
    Needs,
    NodeView,
    SensorView,
    load_score,
    node_view,
    place,
)
from hub.store.nodes import HeartbeatRecord


def temp(location: str | None = "greenhouse-b", **labels: str) -> SensorView:
    return SensorView(name="t", type="temperature", location=location, labels=labels)


def relay(location: str | None = "greenhouse-b") -> SensorView:
    return SensorView(name="r", type="relay", location=location, labels={"kind": "actuator"})


def sensor(
    type_: str = "temperature", *, count: int = 1, location: str | None = None, bind: str = "air", **labels: str
) -> Binding:
    return Binding(bind=bind, type=type_, count=count, location=location, labels=labels)


def needs(*sensors: Binding, actuators: tuple[Binding, ...] = (), replicas: int = 1, **node_labels: str) -> Needs:
    return Needs(tuple(sensors), actuators, Placement(replicas=replicas, node_labels=node_labels))


def reason(decision_node: str, *nodes: NodeView, wants: Needs) -> str:
    decision = place(wants, nodes)
    return next(c.reason for c in decision.candidates if c.node == decision_node)


# --- rejection reasons, word for word --------------------------------------------------------------------


def test_a_missing_sensor_is_named_with_its_location() -> None:
    node = NodeView("a", sensors=(temp("greenhouse-a"),))
    assert reason("a", node, wants=needs(sensor(location="greenhouse-b"))) == "no temperature sensor at greenhouse-b"


def test_a_missing_sensor_with_labels_names_them() -> None:
    node = NodeView("a", sensors=(temp(zone="1"),))
    wants = needs(sensor(location="greenhouse-b", zone="2", height="low"))
    assert reason("a", node, wants=wants) == "no temperature sensor at greenhouse-b with zone=2, height=low"


def test_too_few_sensors_give_wanted_and_found() -> None:
    node = NodeView("a", sensors=(temp(), SensorView("h", "humidity", "greenhouse-b")))
    assert reason("a", node, wants=needs(sensor(count=2))) == "2 temperature sensors wanted, 1 found"


def test_too_few_actuators_give_wanted_and_found() -> None:
    node = NodeView("a", actuators=(relay(),))
    wants = needs(actuators=(sensor("relay", count=2, bind="fans"),))
    assert reason("a", node, wants=wants) == "2 relay actuators wanted, 1 found"


def test_a_missing_actuator_is_named() -> None:
    node = NodeView("a", sensors=(SensorView("r", "relay"),))  # a relay reported as a sensor is no actuator
    assert reason("a", node, wants=needs(actuators=(sensor("relay", bind="fan"),))) == "no relay actuator"


def test_a_disabled_sensor_does_not_count_and_is_mentioned() -> None:
    node = NodeView("a", sensors=(SensorView("t", "temperature", "greenhouse-b", enabled=False),))
    wants = needs(sensor(location="greenhouse-b"))
    assert reason("a", node, wants=wants) == "no temperature sensor at greenhouse-b (1 disabled)"


def test_a_node_label_mismatch_names_both_values() -> None:
    wants = needs(site="north")
    assert (
        reason("a", NodeView("a", labels={"site": "south"}), wants=wants)
        == "node label site=north wanted, has site=south"
    )
    assert reason("b", NodeView("b"), wants=wants) == "node label site=north wanted, has no site"


def test_an_offline_node_is_rejected_as_offline() -> None:
    assert reason("a", NodeView("a", sensors=(temp(),), unavailable="offline"), wants=needs(sensor())) == "offline"


def test_every_unmet_need_of_a_node_is_listed() -> None:
    node = NodeView("a", unavailable="offline", labels={"site": "south"})
    wants = needs(sensor(location="greenhouse-b"), actuators=(sensor("relay", bind="fan"),), site="north")
    assert reason("a", node, wants=wants) == (
        "offline; node label site=north wanted, has site=south; "
        "no temperature sensor at greenhouse-b; no relay actuator"
    )


# --- matching -------------------------------------------------------------------------------------------


def test_count_location_and_labels_all_match() -> None:
    node = NodeView("a", sensors=(temp(zone="1", height="low"), temp(zone="1"), temp("greenhouse-a", zone="1")))
    assert place(needs(sensor(count=2, location="greenhouse-b", zone="1")), [node]).chosen == ["a"]
    assert place(needs(sensor(count=3, zone="1")), [node]).chosen == ["a"]
    assert place(needs(sensor(count=2, zone="1", height="low")), [node]).pending


def test_one_sensor_does_not_serve_two_bindings() -> None:
    node = NodeView("a", sensors=(temp(),))
    wants = needs(sensor(bind="air"), sensor(bind="soil"))
    decision = place(wants, [node])
    assert decision.pending
    assert decision.candidates[0].reason == "2 distinct temperature sensors wanted for air, soil, 1 found"
    assert place(wants, [NodeView("a", sensors=(temp(), temp()))]).chosen == ["a"]


def test_a_general_binding_does_not_starve_a_specific_one() -> None:
    # Taken in order, "air" could grab the only zone=1 probe that "soil" needs; the matching finds the other way.
    node = NodeView("a", sensors=(temp(zone="1"), temp(zone="2")))
    assert place(needs(sensor(bind="air"), sensor(bind="soil", zone="1")), [node]).chosen == ["a"]


def test_a_sensor_does_not_serve_an_actuator_binding_nor_the_reverse() -> None:
    node = NodeView("a", sensors=(SensorView("t", "relay"),), actuators=(SensorView("r", "temperature"),))
    decision = place(needs(sensor(), actuators=(sensor("relay", bind="fan"),)), [node])
    assert decision.candidates[0].reason == "no temperature sensor; no relay actuator"


# --- choosing -------------------------------------------------------------------------------------------


def test_accepted_nodes_are_ranked_by_load_with_ties_by_id() -> None:
    nodes = [
        NodeView("d", sensors=(temp(),), load1=0.1, mem_used_pct=10),
        NodeView("c", sensors=(temp(),), load1=2.0, mem_used_pct=10),
        NodeView("b", sensors=(temp(),), load1=0.1, mem_used_pct=10),
        NodeView("a", sensors=(temp(),), load1=0.1, mem_used_pct=10, instances=2),
        NodeView("e", sensors=()),
    ]
    decision = place(needs(sensor()), nodes)
    assert decision.chosen == ["b"]
    assert [(c.node, c.accepted, c.rank) for c in decision.candidates] == [
        ("b", True, 1),
        ("d", True, 2),
        ("a", True, 3),
        ("c", True, 4),
        ("e", False, None),
    ]
    assert decision.candidates[0].reason == "chosen: rank 1 of 4"
    assert decision.candidates[1].reason == "qualifies (rank 2 of 4); 1 replica(s) went to better-ranked nodes"
    assert decision.candidates[0].score == pytest.approx(0.1 + 0.1)
    assert decision.candidates[2].score == pytest.approx(0.1 + 0.1 + 2 * 0.25)


def test_load_is_per_core_and_unreported_figures_count_as_full() -> None:
    assert load_score(NodeView("a", load1=2.0, cores=4, mem_used_pct=50)) == pytest.approx(1.0)
    assert load_score(NodeView("a")) == pytest.approx(2.0)


def test_replicas_spread_one_per_node_while_there_are_nodes() -> None:
    nodes = [
        NodeView(n, sensors=(temp(),), load1=load, mem_used_pct=0) for n, load in [("a", 0.3), ("b", 0.1), ("c", 0.2)]
    ]
    assert place(needs(sensor(), replicas=2), nodes).chosen == ["b", "c"]
    assert place(needs(sensor(), replicas=3), nodes).chosen == ["b", "c", "a"]


def test_more_replicas_than_nodes_go_to_the_least_loaded_again() -> None:
    nodes = [
        NodeView("a", sensors=(temp(),), load1=0.0, mem_used_pct=0),
        NodeView("b", sensors=(temp(),), load1=0.3, mem_used_pct=0),
    ]
    # One each (a then counts 0.25, b 0.55); then a (0.50 with two), a again (0.50 < 0.55), then b (0.55 < 0.75).
    decision = place(needs(sensor(), replicas=5), nodes)
    assert decision.chosen == ["a", "b", "a", "a", "b"]
    assert decision.reason == "5 replica(s) on 2 node(s)"


def test_no_qualifying_node_leaves_the_decision_pending_with_a_summary() -> None:
    nodes = [
        NodeView("a", sensors=(temp("greenhouse-a"),)),
        NodeView("b", sensors=(temp("greenhouse-a"),)),
        NodeView("c", unavailable="offline"),
    ]
    decision = place(needs(sensor(location="greenhouse-b")), nodes)
    assert decision.pending and decision.chosen == []
    assert decision.reason == (
        "no node qualifies among 3: no temperature sensor at greenhouse-b (3 nodes); offline (1 node)"
    )


def test_no_nodes_at_all() -> None:
    decision = place(needs(sensor()), [])
    assert decision.chosen == [] and decision.candidates == []
    assert decision.reason == "no node qualifies: there are no nodes to place on"


def test_an_app_without_bindings_goes_to_the_least_loaded_node() -> None:
    nodes = [NodeView("a", load1=1.0, mem_used_pct=0), NodeView("b", load1=0.5, mem_used_pct=0)]
    assert place(Needs(), nodes).chosen == ["b"]


def test_the_deployment_replicas_override_the_manifest() -> None:
    nodes = [NodeView("a"), NodeView("b")]
    assert place(Needs(placement=Placement(replicas=1), replicas=2), nodes).chosen == ["a", "b"]


# --- building views from the hub's records --------------------------------------------------------------


def _device(**fields: object) -> Device:
    base: dict[str, object] = {
        "id": "gw-1",
        "name": "gw-1",
        "tenant": "default",
        "kind": DeviceKind.GATEWAY,
        "labels": {"site": "north"},
        "status": DeviceStatus.ONLINE,
        "created": datetime(2026, 1, 1, tzinfo=UTC),
    }
    return Device.model_validate(base | fields)


def _beat() -> Heartbeat:
    return Heartbeat(
        ts=0,
        agent_version="1",
        uptime_s=1,
        load1=0.5,
        mem_used_pct=40,
        spool=SpoolInfo(depth=0, dropped=0, bytes_used=0),
        sensors=[
            SensorInfo(name="air", driver="bme280", type="temperature", location="gh-b", labels={"zone": "1"}),
            SensorInfo(name="fan", driver="gpio", type="relay", labels={"kind": "actuator"}),
            SensorInfo(name="off", driver="simulated", type="humidity", enabled=False),
            SensorInfo(name="raw", driver="simulated"),  # no type: nothing to match
        ],
    )


def test_a_node_view_is_built_from_the_device_and_its_stored_heartbeat() -> None:
    record = HeartbeatRecord(doc=_beat().model_dump(mode="json"), received=1)
    view = node_view(_device(), record, instances=2)
    assert view == NodeView(
        id="gw-1",
        sensors=(
            SensorView("air", "temperature", "gh-b", {"zone": "1"}),
            SensorView("off", "humidity", None, {}, enabled=False),
        ),
        actuators=(SensorView("fan", "relay", None, {"kind": "actuator"}),),
        labels={"site": "north"},
        load1=0.5,
        mem_used_pct=40,
        instances=2,
    )
    wants = needs(sensor(location="gh-b"), actuators=(sensor("relay", bind="fan"),), site="north")
    assert place(wants, [view]).chosen == ["gw-1"]


@pytest.mark.parametrize(
    ("fields", "beat", "unavailable"),
    [
        ({"enabled": False}, True, "disabled"),
        ({"status": DeviceStatus.OFFLINE}, True, "offline"),
        ({"kind": DeviceKind.DEVICE}, True, "not a gateway"),
        ({}, False, "no heartbeat yet"),
        ({}, True, None),
    ],
)
def test_a_node_view_says_why_a_node_is_unavailable(
    fields: dict[str, object], beat: bool, unavailable: str | None
) -> None:
    assert node_view(_device(**fields), _beat() if beat else None).unavailable == unavailable


# --- properties -----------------------------------------------------------------------------------------

TYPES = ["temperature", "humidity"]
LOCATIONS = [None, "a", "b"]
LABELS = st.dictionaries(st.sampled_from(["zone", "height"]), st.sampled_from(["1", "2"]), max_size=1)

entries = st.builds(
    SensorView,
    name=st.just("s"),
    type=st.sampled_from(TYPES),
    location=st.sampled_from(LOCATIONS),
    labels=LABELS,
    enabled=st.booleans(),
)
nodes_strategy = st.lists(
    st.builds(
        NodeView,
        id=st.text("abcdef", min_size=1, max_size=3),
        sensors=st.lists(entries, max_size=4).map(tuple),
        actuators=st.lists(entries, max_size=2).map(tuple),
        labels=st.dictionaries(st.just("site"), st.sampled_from(["n", "s"]), max_size=1),
        unavailable=st.sampled_from([None, None, None, "offline"]),
        load1=st.one_of(st.none(), st.floats(0, 4)),
        mem_used_pct=st.one_of(st.none(), st.floats(0, 100)),
        instances=st.integers(0, 3),
    ),
    max_size=6,
    unique_by=lambda node: node.id,
)
bindings = st.builds(
    Binding,
    bind=st.just("x"),
    type=st.sampled_from(TYPES),
    count=st.integers(1, 2),
    location=st.sampled_from(LOCATIONS),
    labels=LABELS,
)
needs_strategy = st.builds(
    Needs,
    sensors=st.lists(bindings, max_size=3).map(tuple),
    actuators=st.lists(bindings, max_size=1).map(tuple),
    placement=st.builds(
        Placement,
        replicas=st.integers(1, 4),
        node_labels=st.dictionaries(st.just("site"), st.sampled_from(["n", "s"]), max_size=1),
    ),
)


def _fits(entry: SensorView, binding: Binding) -> bool:
    return (
        entry.enabled
        and entry.type == binding.type
        and binding.location in (None, entry.location)
        and all(entry.labels.get(k) == v for k, v in binding.labels.items())
    )


def _hosts(node: NodeView, wants: Needs) -> bool:
    """Brute force: some assignment of distinct entries fills every slot of every binding."""
    slots = [(False, b) for b in wants.sensors for _ in range(b.count)]
    slots += [(True, b) for b in wants.actuators for _ in range(b.count)]
    pool = [(False, e) for e in node.sensors] + [(True, e) for e in node.actuators]
    if len(slots) > len(pool):
        return False
    for picked in itertools.permutations(range(len(pool)), len(slots)):
        if all(pool[i][0] == kind and _fits(pool[i][1], b) for i, (kind, b) in zip(picked, slots, strict=True)):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(nodes_strategy, needs_strategy)
def test_chosen_nodes_host_everything_and_rejections_name_an_unmet_need(nodes: list[NodeView], wants: Needs) -> None:
    decision = place(wants, nodes)
    by_id = {node.id: node for node in nodes}
    labels_ok = {n.id: all(n.labels.get(k) == v for k, v in wants.placement.node_labels.items()) for n in nodes}
    qualifies = {n.id: n.unavailable is None and labels_ok[n.id] and _hosts(n, wants) for n in nodes}
    assert sorted(c.node for c in decision.candidates) == sorted(by_id)
    for candidate in decision.candidates:
        assert candidate.accepted == qualifies[candidate.node]
        node = by_id[candidate.node]
        if candidate.accepted:
            continue
        for problem in candidate.reason.split("; "):
            if problem == "offline":
                assert node.unavailable == "offline"
            elif problem.startswith("node label"):
                assert not labels_ok[node.id]
            else:
                kind = "actuator" if "actuator" in problem else "sensor"
                wanted = wants.actuators if kind == "actuator" else wants.sensors
                assert any(f"{b.type} {kind}" in problem for b in wanted), problem
                assert not _hosts(node, wants)
    assert set(decision.chosen) <= {n for n, ok in qualifies.items() if ok}
    assert len(decision.chosen) == (wants.wanted if any(qualifies.values()) else 0)
    # Spread: no node gets a second instance while a qualifying node has none.
    assert len(set(decision.chosen)) == min(wants.wanted, sum(qualifies.values()))
