"""The one interface every network adapter implements, and the typed outcomes it may raise.

Adapters take plain values and return plain values: they know nothing of the planner, the
database or the web. The dispatcher acts on the exception *type* alone, so each adapter must
classify its platform's errors into exactly one of the classes below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class MediaFile:
    """An image on local disk, already checked for type and size by the planner."""

    path: str
    mime_type: str
    alt_text: str = ""
    # A public https URL of the same file: Instagram and Threads fetch images by URL.
    url: str = ""


@dataclass(frozen=True)
class DmPrompt:
    """A call to action inviting a direct message: keyword, product link, optional prefill."""

    keyword: str
    product_url: str
    prefill: str = ""
    call_to_action: str = ""  # e.g. "DM us GLOW for the link"; built from keyword when empty


@dataclass(frozen=True)
class Content:
    """What one publication sends: the (per-account) text plus optional link, media, prompt."""

    text: str
    link: str | None = None
    media: tuple[MediaFile, ...] = ()
    dm_prompt: DmPrompt | None = None
    utm_campaign: str = ""
    post_ref: str = ""  # the post id used in utm_content and DM refs
    # (original URL, tracked short URL) pairs: where a URL has one, it goes out instead of
    # the UTM-tagged original, so a click is counted before it reaches the shop.
    tracked_links: tuple[tuple[str, str], ...] = ()
    # BCP-47 tags of the text's languages where known (Bluesky's ``langs``); () = unknown.
    langs: tuple[str, ...] = ()

    def tracked(self, url: str) -> str | None:
        return next((short for original, short in self.tracked_links if original == url), None)


@dataclass(frozen=True)
class AccountRef:
    """A connected social account as the adapter needs it (credentials already decrypted)."""

    platform: str
    handle: str
    api_base: str  # empty string = the platform's public API
    credentials: Mapping[str, str] = field(default_factory=dict)
    external_id: str = ""  # numeric user id, page id, DID ... where the platform has one
    # The account's own text limit where it differs from the platform default (a Mastodon
    # instance's configuration.statuses.max_characters); None = the platform default.
    text_limit: int | None = None
    # The platform API version the operator configured (LinkedIn's POISE_LINKEDIN_VERSION);
    # empty = the adapter's default (publishers/versions.py).
    api_version: str = ""


@dataclass
class PublishContext:
    """Per-publication idempotency data, stable across attempts of the same publication.

    ``idempotency_key`` never changes for a publication. ``state`` holds what an earlier
    attempt recorded (a Bluesky rkey, an Instagram container id ...). Before any call that may
    create something remotely, an adapter puts what it needs to find that thing again into
    ``state`` and calls ``checkpoint(state)``, which the dispatcher persists durably first.
    """

    idempotency_key: str
    fingerprint: str
    state: dict[str, str] = field(default_factory=dict)
    checkpoint: Callable[[dict[str, str]], None] = lambda state: None
    timeout_seconds: float = 30.0
    # Set by the dispatcher when reconciling after a clue that the post is live (a duplicate
    # refusal, a second unknown outcome): ``find_existing`` should page through all of the
    # account's posts since ``state["first_sent_at"]`` rather than read one recent page.
    thorough: bool = False


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str = ""


@dataclass(frozen=True)
class Identity:
    """Who an account's credentials belong to, as the platform says (optional capability)."""

    display_name: str
    external_id: str = ""  # what AccountRef.external_id should hold (user id, author URN)
    username: str = ""  # the @name, where the platform has one


@dataclass(frozen=True)
class Problem:
    """A reason content cannot go to an account, in plain words, with the field it concerns."""

    field: str
    message: str


class PublishError(Exception):
    """Base of every typed outcome; ``reason`` is plain words a person can act on."""

    def __init__(self, reason: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.detail = detail


class AuthExpired(PublishError):
    """Credentials were refused: the account needs reconnecting; nothing was created."""


class AccountHeld(PublishError):
    """Nothing was created, and nothing this account sends can go out until a person changes
    something outside the post: a setting (a sunset API version), the platform plan (X's 402),
    an app permission. The account's publications wait; admins are told what to change."""


class ContentRejected(PublishError):
    """The platform refused this content permanently; retrying the same content is pointless."""


class RateLimited(PublishError):
    """Too many requests; nothing was created. Try again at ``reset_at`` (UTC)."""

    def __init__(self, reason: str, *, reset_at: datetime, status: int | None = 429,
                 detail: str = "") -> None:
        super().__init__(reason, status=status, detail=detail)
        self.reset_at = reset_at


class Transient(PublishError):
    """A failure where nothing can have been created (refused connection, 5xx with proof)."""


class OutcomeUnknown(PublishError):
    """The post may or may not exist now. Never resend blindly: reconcile first.

    ``not_before`` (UTC), when set, is the earliest time a reconciliation may touch the
    platform: a request the server may still be processing must have finished first
    (Mastodon stores its Idempotency-Key only once the status exists).

    ``duplicate``: the platform refused the post as a duplicate of an existing one, which is
    evidence that an earlier attempt landed; the dispatcher then never sends it again.
    """

    def __init__(self, reason: str, *, status: int | None = None, detail: str = "",
                 not_before: datetime | None = None, duplicate: bool = False) -> None:
        super().__init__(reason, status=status, detail=detail)
        self.not_before = not_before
        self.duplicate = duplicate


@runtime_checkable
class Publisher(Protocol):
    platform: str

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        """Everything wrong with this content for this account, without any network call."""
        ...

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        """Create the post. Raises one of the PublishError subclasses on failure."""
        ...

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        """After an unknown outcome: the post if it exists, None if it surely does not.

        Raises OutcomeUnknown when the platform cannot tell (no key, no lookup).
        """
        ...

    def check_connection(self, account: AccountRef) -> str:
        """A cheap authenticated call; returns the account's display name or raises."""
        ...
