"""Notification e-mails through the SMTP server of ``POISE_SMTP_URL``.

``notifications.notify`` marks a notification's e-mail *pending* for people who opted in; the
worker calls :func:`send_pending`. Each e-mail is claimed in its own short transaction
(pending -> sending, compare-and-set, so two workers never send the same one), sent with no
transaction open, then recorded as sent, or back to pending for another try, or failed after
``MAX_ATTEMPTS`` (the Notifications page shows which). A worker killed mid-send leaves it
"sending": not sent twice, and visible.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from planner.models import Notification, User, Workspace

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
BATCH = 50
SMTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: bool  # smtps: TLS from the first byte; smtp: STARTTLS when offered
    username: str
    password: str


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("POISE_SMTP_URL must look like smtp://host:port or smtps://host:port")
    tls = parts.scheme == "smtps"
    return SmtpTarget(host=parts.hostname, port=parts.port or (465 if tls else 25), tls=tls,
                      username=unquote(parts.username or ""),
                      password=unquote(parts.password or ""))


@dataclass(frozen=True)
class Outgoing:
    notification_id: int
    to: str
    subject: str
    body: str


def _claim(engine: Engine, base_url: str) -> list[Outgoing]:
    claimed: list[Outgoing] = []
    with Session(engine) as session:
        rows = session.exec(
            select(Notification, User, Workspace)
            .join(User, col(User.id) == col(Notification.user_id))
            .join(Workspace, col(Workspace.id) == col(Notification.workspace_id))
            .where(col(Notification.email_status) == "pending")
            .order_by(col(Notification.id)).limit(BATCH)).all()
        for notification, user, workspace in rows:
            won = session.execute(
                update(Notification).where(col(Notification.id) == notification.id,
                                           col(Notification.email_status) == "pending")
                .values(email_status="sending",
                        email_attempts=col(Notification.email_attempts) + 1)
                .execution_options(synchronize_session=False))
            if getattr(won, "rowcount", 0) != 1:
                continue
            link = f"{base_url.rstrip('/')}{notification.link}" if notification.link else ""
            claimed.append(Outgoing(
                notification_id=notification.id or 0, to=user.email,
                subject=f"[{workspace.name}] {notification.text[:120]}",
                body=(f"{notification.text}\n\n{link}\n\n" if link else f"{notification.text}\n\n")
                + "You get these e-mails because you asked for them on Poise's Notifications "
                  "page; turn them off there."))
        session.commit()
    return claimed


def _deliver(target: SmtpTarget, sender: str, outgoing: Outgoing) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outgoing.to
    message["Subject"] = outgoing.subject.replace("\n", " ")
    message.set_content(outgoing.body)
    smtp_class = smtplib.SMTP_SSL if target.tls else smtplib.SMTP
    with smtp_class(target.host, target.port, timeout=SMTP_TIMEOUT_SECONDS) as client:
        if not target.tls:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
        if target.username:
            client.login(target.username, target.password)
        client.send_message(message)


def _record(engine: Engine, notification_id: int, sent: bool) -> None:
    with Session(engine) as session:
        notification = session.get(Notification, notification_id)
        if notification is None:
            return
        if sent:
            notification.email_status = "sent"
        elif notification.email_attempts >= MAX_ATTEMPTS:
            notification.email_status = "failed"
        else:
            notification.email_status = "pending"
        session.add(notification)
        session.commit()


def send_pending(*, engine: Engine, smtp_url: str, sender: str, base_url: str) -> int:
    """Send the pending notification e-mails (one batch); how many went out."""
    if not smtp_url:
        return 0
    target = parse_smtp_url(smtp_url)
    sent = 0
    for outgoing in _claim(engine, base_url):
        try:
            _deliver(target, sender, outgoing)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("notification e-mail %s to %s failed: %s", outgoing.notification_id,
                        outgoing.to, exc)
            _record(engine, outgoing.notification_id, sent=False)
            continue
        _record(engine, outgoing.notification_id, sent=True)
        sent += 1
    return sent


def send_now(*, smtp_url: str, sender: str, to: str, subject: str, body: str) -> None:
    """One e-mail sent at once (an invitation), bounded by ``SMTP_TIMEOUT_SECONDS`` per
    network step. The caller holds no database transaction; errors are the caller's to show
    (``OSError``, ``smtplib.SMTPException``)."""
    _deliver(parse_smtp_url(smtp_url), sender,
             Outgoing(notification_id=0, to=to, subject=subject, body=body))
