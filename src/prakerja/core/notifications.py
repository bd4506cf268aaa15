"""The notifications outbox: messages are stored with the data that caused them, delivered after commit."""

import logging
import smtplib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from prakerja.core.models import Channel, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class Delivery(Protocol):
    """How a message leaves the system. An SMS gateway adapter implements this same shape:
    `send(channel, recipient, subject, body)` raises on failure, returns on acceptance."""

    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None: ...


class ConsoleDelivery:
    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        print(f"--- {channel} to {recipient}: {subject}\n{body}\n---", flush=True)


class FileDelivery:
    """Appends each message to <PRAKERJA_NOTIFY_DIR>/<channel>.log: the demo's and tests' mailbox."""

    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        folder = Path(settings.NOTIFY_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{channel}.log").open("a", encoding="utf-8") as out:
            out.write(f"To: {recipient}\nSubject: {subject}\n\n{body}\n\n")


class SmtpDelivery:
    def send(self, *, channel: str, recipient: str, subject: str, body: str) -> None:
        if channel != Channel.EMAIL:
            raise ValueError("SMTP delivers e-mail only; choose an SMS delivery for SMS")
        connection = get_connection("django.core.mail.backends.smtp.EmailBackend")
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], connection=connection).send()


DELIVERIES: dict[str, type[Delivery]] = {
    "console": ConsoleDelivery,
    "file": FileDelivery,
    "smtp": SmtpDelivery,
}


def _delivery_for(channel: str) -> Delivery:
    name = settings.NOTIFY_BACKEND
    if channel == Channel.SMS and name == "smtp":
        name = "file"
    return DELIVERIES[name]()


def notify(*, channel: str, recipient: str, subject: str = "", body: str) -> OutboxMessage:
    """Store a message; it is delivered once the surrounding transaction commits."""
    message = OutboxMessage.objects.create(channel=channel, recipient=recipient, subject=subject, body=body)
    if settings.NOTIFY_INLINE:
        transaction.on_commit(lambda: outbox_deliver(ids=[message.pk]))
    return message


def notify_many(messages: Sequence[tuple[str, str, str, str]]) -> list[OutboxMessage]:
    """Store many (channel, recipient, subject, body) messages at once; delivered after the commit."""
    stored = OutboxMessage.objects.bulk_create(
        OutboxMessage(channel=channel, recipient=recipient, subject=subject, body=body)
        for channel, recipient, subject, body in messages
    )
    if settings.NOTIFY_INLINE and stored:
        ids = [m.pk for m in stored]
        transaction.on_commit(lambda: outbox_deliver(ids=ids, limit=len(ids)))
    return stored


def outbox_deliver(*, ids: list[int] | None = None, limit: int = 500) -> int:
    """Deliver pending messages (all, or the given ones); failures stay pending until MAX_ATTEMPTS."""
    pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).order_by("id")
    if ids is not None:
        pending = pending.filter(pk__in=ids)
    sent = 0
    for message in pending[:limit]:
        message.attempts += 1
        try:
            _delivery_for(message.channel).send(
                channel=message.channel,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
            )
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            log.warning("outbox message %s not delivered: %s", message.pk, type(exc).__name__)
            message.last_error = type(exc).__name__
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
        else:
            message.status = OutboxStatus.SENT
            message.sent_at = timezone.now()
            sent += 1
        message.save(update_fields=["attempts", "last_error", "status", "sent_at"])
    return sent


class OutboxEmailBackend(BaseEmailBackend):
    """Django e-mail backend writing to the outbox, so Django's own mail (password reset) goes there too."""

    def send_messages(self, email_messages: Any) -> int:
        count = 0
        for email in email_messages:
            for address in email.recipients():
                notify(channel=Channel.EMAIL, recipient=address, subject=email.subject, body=email.body)
                count += 1
        return count
