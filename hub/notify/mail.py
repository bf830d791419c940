"""E-mail channels: the notification as a plain-text mail over SMTP (the ``[smtp]`` settings).

smtplib blocks, so each mail is sent in a worker thread, on a connection of its own: alarms are rare enough
that keeping one open would buy nothing but a connection the server drops when idle. Subject and body are
built here from the alarm alone (the templates are pure functions, tested without a server).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

from contracts.alarms import AlarmState, Notification
from contracts.channels import Channel, EmailTarget
from hub.errors import DeliveryFailed

#: Where the portal shows one alarm, after the hub's public URL.
PORTAL_ALARM_PATH = "/alarms/{id}"
_SUBJECT_CHARS = 200
_STATE_WORDS = {AlarmState.ACTIVE: "raised", AlarmState.ACKNOWLEDGED: "acknowledged", AlarmState.CLEARED: "cleared"}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """The SMTP server mails go through; ``ssl`` is TLS from the start (port 465), ``starttls`` upgrades."""

    host: str
    port: int = 587
    sender: str = "fieldhub@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ssl: bool = False
    timeout_s: float = 10.0


def subject(notification: Notification) -> str:
    """``[SEVERITY] message``, with the new state first when the alarm was acknowledged or cleared."""
    alarm = notification.alarm
    message = " ".join(alarm.message.split())  # one line: a header may not hold line breaks
    state = "" if alarm.state is AlarmState.ACTIVE else f"{_STATE_WORDS[alarm.state].capitalize()}: "
    return f"[{alarm.severity.value.upper()}] {state}{message}"[:_SUBJECT_CHARS]


def body(notification: Notification, portal_url: str | None) -> str:
    """The plain-text body: what, where, when; a link to the alarm when the hub knows its public URL."""
    alarm = notification.alarm
    lines = [
        f"Alarm {_STATE_WORDS[alarm.state]}: {alarm.message}",
        "",
        f"Device:    {alarm.device}",
        f"Rule:      {alarm.rule_name} ({alarm.rule})",
    ]
    if alarm.key is not None:
        lines.append(f"Key:       {alarm.key}")
    lines += [
        f"Value:     {alarm.value}",
        f"Severity:  {alarm.severity.value}",
        f"State:     {alarm.state.value}",
        f"Raised:    {_when(alarm.raised)}",
    ]
    if alarm.acknowledged is not None:
        lines.append(f"Acknowledged: {_when(alarm.acknowledged)}{_by(alarm.acknowledged_by)}")
    if alarm.cleared is not None:
        lines.append(f"Cleared:   {_when(alarm.cleared)}{_by(alarm.cleared_by)}")
    lines += [f"Tenant:    {alarm.tenant}", f"Alarm:     {alarm.id}"]
    if portal_url:
        lines += ["", f"Open it in the portal: {portal_url.rstrip('/')}{PORTAL_ALARM_PATH.format(id=alarm.id)}"]
    return "\n".join(lines) + "\n"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _by(who: str | None) -> str:
    return f" by {who}" if who else ""


class MailSender:
    """Sends through one SMTP server; ``portal_url`` is the hub's public URL (no link without it)."""

    def __init__(self, config: SmtpConfig, portal_url: str | None = None) -> None:
        self._config = config
        self._portal_url = portal_url

    async def send(self, channel: Channel, secret: str | None, notification: Notification) -> None:
        if not isinstance(channel.target, EmailTarget):
            raise DeliveryFailed(f"channel {channel.id} is no email channel")
        mail = EmailMessage()
        mail["From"] = self._config.sender
        mail["To"] = ", ".join(channel.target.to)
        mail["Subject"] = subject(notification)
        mail["Message-ID"] = make_msgid("fieldhub")
        mail["X-Fieldhub-Notification"] = notification.id
        mail.set_content(body(notification, self._portal_url))
        try:
            await asyncio.to_thread(self._deliver, mail)
        except (smtplib.SMTPException, OSError) as exc:
            # The server's answer or the socket's error; smtplib never puts the password in either.
            raise DeliveryFailed(f"SMTP {self._config.host}: {type(exc).__name__}: {exc}"[:300]) from None

    def _deliver(self, mail: EmailMessage) -> None:
        config = self._config
        context = ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
            if config.ssl
            else smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
        )
        with smtp:
            if config.starttls and not config.ssl:
                smtp.starttls(context=context)
            if config.username is not None:
                smtp.login(config.username, config.password or "")
            smtp.send_message(mail)
