"""The work done once per hub, however many processes serve it: run by the leader only (:mod:`hub.leader`).

Placing pending deployments, rollouts, schedules, node health and failover, autoscaling, no-data alarms,
notifications, webhook deliveries, the retention of events, alarms and telemetry, and taking over the broker
sessions of hub processes that stopped (:mod:`hub.broker.mosquitto.sessions`). Each term of office starts them
afresh from the store, so a new leader carries on where the last one stopped: a schedule due while no process
led starts at the new leader's first look (its start is a compare-and-set on the deployment's status, so it
runs once), the dispatcher resumes after its stored cursor.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from cloud.settings import HubSettings
from contracts.channels import ChannelKind
from hub.alarms.lifecycle import AlarmLifecycle
from hub.alarms.rulebook import RuleBook
from hub.alarms.silence import SilenceWatch
from hub.broker.downlink import Downlink
from hub.broker.mosquitto.sessions import SessionAdoption
from hub.deploy.deployments import Deployments
from hub.deploy.failover import Failover, NodeMonitor
from hub.deploy.health import HealthThresholds
from hub.deploy.scaling import Scaler
from hub.deploy.schedules import Scheduler
from hub.events.service import EventRetention, Events
from hub.events.webhooks import DeliveryPolicy, Webhooks
from hub.notify.base import Sender
from hub.notify.dispatcher import Dispatcher
from hub.notify.mail import MailSender
from hub.notify.mqtt import MqttSender
from hub.notify.stream import StreamSender
from hub.notify.webhook import WebhookSender
from hub.retention import TelemetryTrim
from hub.store.backend import Backend
from hub.streams.base import StreamSink
from hub.tasks import Background


def webhooks_of(s: HubSettings, events: Events) -> Webhooks:
    """The webhook subscriptions and their deliveries, as the settings say."""
    section = s.events
    policy = DeliveryPolicy(
        attempts=section.webhook_attempts,
        first_s=section.webhook_backoff_s,
        cap_s=section.webhook_backoff_cap_s,
        timeout_s=section.webhook_timeout_s,
        queue_size=section.webhook_queue,
    )
    return Webhooks(events, policy)


@dataclass(frozen=True, slots=True)
class LeaderDuties:
    """What the once-per-hub work runs on; calling it starts one term's worth (a :data:`hub.leader.Duties`)."""

    settings: HubSettings
    store: Backend
    events: Events
    deployments: Deployments
    schedules: Scheduler
    health: HealthThresholds
    rulebook: RuleBook
    alarms: AlarmLifecycle
    downlink: Downlink
    #: This process's connections to the streams (alarm notifications go through them).
    sinks: list[StreamSink]
    #: Takes over the broker sessions of hub processes that stopped (None: no broker shared by several).
    adoption: SessionAdoption | None

    async def __call__(self, stack: AsyncExitStack) -> None:
        s, store = self.settings, self.store
        tasks = Background()
        await tasks.open()
        stack.push_async_callback(tasks.close)
        self._run_deployments(tasks)
        silence = SilenceWatch(self.rulebook, self.alarms, store.registry, store.telemetry, store.nodes)
        tasks.spawn(silence.run(), name="no-data-watch")
        tasks.spawn(self.alarms.keep(s.alarms.retention_days, s.alarms.retention_interval_s), name="alarm-retention")
        section = s.events
        retention = EventRetention(section.retention_days, section.max_per_tenant, section.retention_interval_s)
        tasks.spawn(self.events.keep(retention), name="events-retention")
        trim = TelemetryTrim(store.telemetry, store.registry, s.telemetry.retention())
        tasks.spawn(trim.run(), name="telemetry-retention")
        if self.adoption is not None:
            tasks.spawn(self.adoption.run(), name="session-adoption")
        await stack.enter_async_context(webhooks_of(s, self.events))
        await self._start_dispatcher(stack)

    def _run_deployments(self, tasks: Background) -> None:
        """Place pending deployments, move rollouts on, run the schedules, watch the nodes' health, autoscale."""
        deployments = self.deployments
        tasks.spawn(deployments.run_sweeps(), name="pending-deployments")
        tasks.spawn(deployments.rollouts.run(), name="deployment-rollouts")
        tasks.spawn(self.schedules.run(), name="deployment-schedules")
        failover = Failover(deployments, self.events)
        monitor = NodeMonitor(
            deployments.placed_nodes, self.store.nodes, failover.move_off, self.health, failover.health_changed
        )
        tasks.spawn(monitor.run(), name="node-health")
        tasks.spawn(Scaler(self.store.apps, self.store.nodes, deployments.scale_to).run(), name="deployment-scaling")

    async def _start_dispatcher(self, stack: AsyncExitStack) -> None:
        """The dispatcher that tells the tenants' channels of alarms, with a sender for every kind this hub has."""
        s = self.settings
        smtp = s.smtp.config()
        senders: dict[ChannelKind, Sender] = {
            ChannelKind.WEBHOOK: await stack.enter_async_context(WebhookSender(s.notify.timeout_s)),
            ChannelKind.MQTT: MqttSender(self.downlink),
        }
        if smtp is not None:
            senders[ChannelKind.EMAIL] = MailSender(smtp, portal_url=s.public_url)
        if self.sinks:
            senders[ChannelKind.STREAM] = StreamSender(self.sinks)
        # Entered after the webhook client: it stops before the client closes.
        await stack.enter_async_context(Dispatcher(self.events, self.store.channels, senders, s.notify.policy()))
