"""Network adapters behind one Protocol (see base.py) and a registry by platform name."""

from publishers.base import (
    AccountHeld,
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    DmPrompt,
    Identity,
    MediaFile,
    OutcomeUnknown,
    Problem,
    PublishContext,
    Publisher,
    PublishError,
    PublishResult,
    RateLimited,
    Transient,
)
from publishers.bluesky import BlueskyPublisher
from publishers.facebook import FacebookPublisher
from publishers.instagram import InstagramPublisher
from publishers.linkedin import LinkedInPublisher
from publishers.mastodon import MastodonPublisher
from publishers.registry import get_publisher, platforms, register
from publishers.threads import ThreadsPublisher
from publishers.webhook import WebhookPublisher
from publishers.x import XPublisher

BUILTIN: tuple[Publisher, ...] = (
    XPublisher(), MastodonPublisher(), BlueskyPublisher(), LinkedInPublisher(),
    FacebookPublisher(), InstagramPublisher(), ThreadsPublisher(), WebhookPublisher())
BUILTIN_PLATFORMS = tuple(publisher.platform for publisher in BUILTIN)
for _publisher in BUILTIN:
    register(_publisher)

__all__ = [
    "BUILTIN_PLATFORMS", "AccountHeld", "AccountRef", "AuthExpired", "Content",
    "ContentRejected", "DmPrompt",
    "Identity", "MediaFile",
    "OutcomeUnknown", "Problem", "PublishContext", "PublishError", "PublishResult", "Publisher",
    "RateLimited", "Transient", "get_publisher", "platforms", "register",
]
