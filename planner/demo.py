"""Demo data: one brand, four accounts, an admin and a brand lead, a month of posts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from planner import accounts
from planner.db import utcnow
from planner.models import (
    Account,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    QueueSlot,
    Role,
    Workspace,
)
from planner.models_conversions import Contact, ContactStatus, EventKind, Message
from planner.team import users, workspaces

DEMO_WORKSPACE = "Juniper Coffee Roasters"
DEMO_TIMEZONE = "Europe/Warsaw"
DEMO_USERS = (
    ("admin@poise.local", "Ada Admin", Role.admin),
    ("lead@poise.local", "Lena Lead", Role.brand_lead),
    ("manager@poise.local", "Max Manager", Role.manager),
)
DEMO_PASSWORD = "poise-demo-2026"  # noqa: S105 - printed at start; demo data only, never a real account
DEMO_ACCOUNTS = (
    ("mastodon", "@juniper@coffee.social", "Juniper on Mastodon"),
    ("bluesky", "juniper.bsky.social", "Juniper on Bluesky"),
    ("x", "@junipercoffee", "Juniper on X"),
    ("linkedin", "Juniper Coffee Roasters", "Juniper on LinkedIn"),
)

SAMPLE_POSTS: tuple[tuple[str, str], ...] = (
    ("try", "New this week: our Ethiopian Guji as a cold brew tonic. Be among the first!"),
    ("try", "Dare to skip the sugar? Order your flat white with oat and cardamom and tell us."),
    ("try", "Limited drop: a honey-processed Costa Rica. 200 bags, first come, first served."),
    ("share", "Show us your morning cup! Tag @junipercoffee and we'll repost our favourites."),
    ("share", "Bring a friend on Saturday: two cappuccinos for the price of one, all day."),
    ("share", "Which name for our winter blend? Reply with your pick: Ember, Hearth or Drift."),
    ("care", "Every bag sold this month plants a tree with our partner farms in Huila."),
    ("care", "Our baristas get paid training and a living wage. Meet Ola, six years with us."),
    ("care", "Cups are now 100% compostable, and bring-your-own gets 2 zł off."),
    ("learn", "How to dial in a V60 in three steps: grind, bloom 30 s, pour in circles."),
    ("learn", "Why does fresh coffee bubble? Degassing explained in 60 seconds."),
    ("learn", "Tip: store beans in an airtight tin away from light, never in the fridge."),
)


@dataclass(frozen=True)
class DemoSummary:
    workspace: Workspace
    created: bool
    logins: tuple[tuple[str, str, str], ...]  # (email, password, role)


def demo_platform_accounts(port: int) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """API bases and credentials pointing the demo accounts at the loopback fake platforms."""
    from sandbox import credentials_for

    base = f"http://127.0.0.1:{port}"
    bases = {platform: base for platform, _, _ in DEMO_ACCOUNTS}
    creds = {platform: credentials_for(platform, handle.lstrip("@").split("@")[0])
             for platform, handle, _ in DEMO_ACCOUNTS}
    return bases, creds


def demo_exists(session: Session) -> bool:
    return session.exec(select(Workspace).where(Workspace.name == DEMO_WORKSPACE)).first() \
        is not None


def seed_demo(*, session: Session, now: datetime | None = None,
              account_api_bases: dict[str, str] | None = None,
              account_credentials: dict[str, dict[str, str]] | None = None) -> DemoSummary:
    """Create the demo workspace once; later calls return it unchanged."""
    logins = tuple((email, DEMO_PASSWORD, role.value) for email, _, role in DEMO_USERS)
    existing = session.exec(select(Workspace).where(Workspace.name == DEMO_WORKSPACE)).first()
    if existing:
        return DemoSummary(existing, False, logins)
    now = now or utcnow()
    workspace = workspaces.create_workspace(session=session, name=DEMO_WORKSPACE,
                                            timezone=DEMO_TIMEZONE)
    people = []
    for email, name, role in DEMO_USERS:
        user = users.create_user(session=session, email=email, password=DEMO_PASSWORD, name=name)
        users.add_member(session=session, workspace=workspace, user=user, role=role)
        people.append(user)
    bases = account_api_bases or {}
    creds = account_credentials or {}
    demo_accounts = [
        accounts.create_account(session=session, workspace_id=workspace.id or 0,
                                platform=platform, handle=handle, display_name=display,
                                api_base=bases.get(platform, ""),
                                credentials=creds.get(platform, {}),
                                external_id=_external_id(platform),
                                actor_id=people[0].id)
        for platform, handle, display in DEMO_ACCOUNTS
    ]
    for account in demo_accounts:
        for weekday in (0, 2, 4):
            session.add(QueueSlot(account_id=account.id or 0, weekday=weekday, local_time="09:00"))
        session.add(QueueSlot(account_id=account.id or 0, weekday=5, local_time="11:30"))
    _seed_posts(session, workspace, people, demo_accounts, now)
    prompts = _seed_prompts(session, workspace, people, demo_accounts, now)
    session.flush()
    seed_metric_history(session, workspace, demo_accounts, now)
    _seed_conversions(session, workspace, people, demo_accounts, prompts, now)
    seed_busy_history(session, workspace, demo_accounts, now)
    return DemoSummary(workspace, True, logins)


def demo_sandbox_posts(session: Session) -> list:
    """The demo's seeded published posts as the sandbox shows them (``FakePlatform.show``), so
    their "view the live post" links open a page on the sandbox. They never went through its
    APIs, and its page says so."""
    from sandbox.viewer import Shown

    workspace = session.exec(select(Workspace).where(Workspace.name == DEMO_WORKSPACE)).first()
    if workspace is None:
        return []
    rows = session.exec(
        select(Publication, Post.text, Account.platform, Account.handle)
        .join(Post, col(Post.id) == col(Publication.post_id))
        .join(Account, col(Account.id) == col(Publication.account_id))
        .where(Publication.workspace_id == workspace.id,
               Publication.status == PublicationStatus.published,
               col(Publication.remote_id).startswith("demo-"))).all()
    return [Shown(platform=platform, remote_id=pub.remote_id, handle=handle,
                  text=pub.text_variant or text,
                  at=(pub.published_at or utcnow()).timestamp())
            for pub, text, platform, handle in rows]


def _external_id(platform: str) -> str:
    from sandbox import EXTERNAL_IDS

    return EXTERNAL_IDS.get(platform, "")


def _seed_posts(session: Session, workspace: Workspace, people: list, accounts_: list,
                now: datetime) -> None:
    """A month around today: published in the past, approved ahead, some waiting for review."""
    rng = random.Random(7)
    zone = ZoneInfo(workspace.timezone)
    today = now.astimezone(zone).date()
    for offset in range(-14, 17):
        day = today + timedelta(days=offset)
        for slot in (time(9, 0), time(17, 30)):
            if rng.random() < 0.35:
                continue
            quadrant, text = rng.choice(SAMPLE_POSTS)
            local = datetime.combine(day, slot, tzinfo=zone)
            when = local.astimezone(UTC)
            # Published only when its first reading (1 h) is due too; a post due in the last
            # hour is left approved and pending: the worker sends it to the sandbox at start.
            past = when <= now - SEEDED_READING_AFTER
            status = PostStatus.approved if when < now or offset < 9 else rng.choice(
                [PostStatus.draft, PostStatus.in_review, PostStatus.approved])
            # Written and submitted before now, whatever its time: nothing happened in the
            # future.
            created = min(when - timedelta(days=3), now - timedelta(hours=rng.randint(2, 60)))
            submitted = min(when - timedelta(days=2), now - timedelta(hours=1))
            post = Post(workspace_id=workspace.id or 0, author_id=people[2].id, text=text,
                        tags=quadrant, status=status, scheduled_at=when,
                        scheduled_local=local.strftime("%Y-%m-%dT%H:%M"),
                        scheduled_tz=workspace.timezone, created_at=created,
                        updated_at=max(created, submitted),
                        submitted_at=max(created, submitted)
                        if status != PostStatus.draft else None)
            session.add(post)
            session.flush()
            targets = rng.sample(accounts_, k=rng.choice([1, 2, 2, 3]))
            for account in targets:
                publication = Publication(
                    post_id=post.id or 0, account_id=account.id, workspace_id=workspace.id or 0,
                    scheduled_at=when, due_at=when,
                    idempotency_key=f"poise-demo-{post.id}-{account.id}",
                    status=PublicationStatus.published if past else PublicationStatus.pending)
                if past:
                    publication.published_at = when + timedelta(seconds=2)
                    publication.remote_id = f"demo-{post.id}-{account.id}"
                    publication.updated_at = publication.published_at
                session.add(publication)


# --- insight (issue 15) ---------------------------------------------------------------------------

# What the demo's made-up audience responds to: a brand lead should see Care resonate on
# Mastodon and Learn on LinkedIn, Try fall flat on X, and nothing stand out on Bluesky.
DEMO_EFFECTS = {("mastodon", "care"): 2.3, ("linkedin", "learn"): 2.0, ("x", "try"): 0.5,
                ("x", "share"): 1.6}
# ... and Bluesky fading: engagement down about 15% a week (channel health: "a dud?").
DEMO_TRENDS = {"bluesky": 0.85}
# When the audience responds (local weekday, 6-hour block; compass.resonance.BLOCKS): on X,
# weekday evenings after work, best Tuesday to Thursday, and quiet weekend mornings; on
# Mastodon, mornings with a coffee, best at weekends, and quieter evenings. The slot grid and
# Insight's best times find them (tests/planner/test_demo_best_times.py).
DEMO_SLOT_EFFECTS: dict[tuple[str, int, int], float] = {
    **{("x", day, 3): 1.3 for day in (0, 4)},
    **{("x", day, 3): 2.2 for day in (1, 2, 3)},
    **{("x", day, 1): 0.7 for day in (5, 6)},
    **{("mastodon", day, 1): 1.2 for day in range(5)},
    **{("mastodon", day, 1): 2.2 for day in (5, 6)},
    **{("mastodon", day, 3): 0.8 for day in range(7)},
}
# A quarter of history: every account posts most days; X and Mastodon several times a day
# (their extra posts carry no tracked link, so the conversion story is the same), which is
# what it takes to tell a weekday and time of day apart with an honest interval.
HISTORY_DAYS = 75  # ending 15 days ago: inside the report's default quarter (91 days)
HISTORY_POSTS_PER_DAY = 0.7
BUSY_POSTS_PER_DAY = {"x": 3.0, "mastodon": 2.3}
SEEDED_READING_AFTER = timedelta(hours=1)  # the first step of the default schedule


def seed_metric_history(session: Session, workspace: Workspace, accounts_: list,
                        now: datetime) -> None:
    """A quarter of metric history: older published posts with readings, and readings for
    the month's published posts.

    Every seeded row is marked done, with no reading left to take: these posts never went
    through a platform's API (their remote ids are made up), so asking the sandbox about
    them could only answer "not found" - which the page would show as "not available
    (deleted?)" - or numbers a second generator made up over the first. The demo says what
    they are instead: sample history. Posts the demo publishes after it starts go to the
    sandbox for real and are collected from it on the normal schedule.
    """
    from planner.insight import history
    from planner.models_insight import MetricCollection, MetricsOptIn

    _seed_quarter(session, workspace, accounts_, now, HISTORY_POSTS_PER_DAY, seed=2026)
    existing = session.exec(select(Publication, Post.tags).join(
        Post, col(Post.id) == col(Publication.post_id)).where(
        Publication.workspace_id == workspace.id,
        Publication.status == PublicationStatus.published)).all()
    by_id = {a.id: a for a in accounts_}
    history.cover_existing(session=session, end=now, effects=DEMO_EFFECTS, trends=DEMO_TRENDS,
                           slot_effects=DEMO_SLOT_EFFECTS, collect_more=False, publications=[
        (pub, by_id[pub.account_id], tags) for pub, tags in existing
        if pub.account_id in by_id and not session.get(
            MetricCollection, pub.id)])
    for account in accounts_:
        if account.platform == "x":  # the demo's X reads are free: it is the sandbox
            session.add(MetricsOptIn(account_id=account.id, enabled=True))
    session.flush()


def seed_busy_history(session: Session, workspace: Workspace, accounts_: list,
                      now: datetime) -> None:
    """The X and Mastodon posts beyond one a day over the same quarter (``BUSY_POSTS_PER_DAY``),
    seeded after the conversions so they bring no visits: posts without a shop link."""

    _seed_quarter(session, workspace, accounts_, now, BUSY_POSTS_PER_DAY, seed=2028)
    session.flush()


def _seed_quarter(session: Session, workspace: Workspace, accounts_: list, now: datetime,
                  posts_per_day: float | dict[str, float], *, seed: int) -> None:
    """A quarter of sample posts with readings, ending 15 days ago, with the demo's effects."""
    from planner.insight import history

    texts: dict[str, list[str]] = {}
    for quadrant, text in SAMPLE_POSTS:
        texts.setdefault(quadrant, []).append(text)
    history.seed_history(session=session, workspace_id=workspace.id or 0, accounts=accounts_,
                         end=now - timedelta(days=15), days=HISTORY_DAYS,
                         posts_per_day=posts_per_day, effects=DEMO_EFFECTS,
                         slot_effects=DEMO_SLOT_EFFECTS, readings=True, texts=texts,
                         trends=DEMO_TRENDS, seed=seed, collect_more=False)


# --- conversions (issue 14): the Inbox, contacts, leads and sales -------------------------------

# (days ago, local hour, value, text, DM keyword, product link, platforms). The links are on
# example.com's reserved names: the demo shop does not exist.
DEMO_PROMPTS = (
    (27, 9, "try", "Guji cold brew tonic is back for the weekend, only at the bar.", "TONIC",
     "https://shop.example.com/tonic", ("x",)),
    (18, 17, "care", "A bag a month, a tree a month: our subscription plants one in Huila "
     "for every delivery.", "TREE", "https://shop.example.com/subscription", ("x", "mastodon")),
    (10, 9, "share", "Coffee your whole office shares: a tasting kit for teams of 10 or more.",
     "OFFICE", "https://shop.example.com/office", ("x", "linkedin")),
    (3, 17, "learn", "Our V60 brew guide, one page, every step with the timings we use.",
     "GUIDE", "https://shop.example.com/guide", ("x",)),
)
PRICES = {"TONIC": (4900, 9800), "TREE": (14900, 29800), "OFFICE": (32000, 240000),
          "GUIDE": (8900, 8900)}  # zł in grosze: a typical order and a large one
# Sessions per published post and sign-ups per session, per channel: Mastodon brings people
# who sign up, LinkedIn few visits but office leads, X converts in DMs, and Bluesky brings
# clicks that stopped turning into anyone weeks ago (the Attribution page's dud).
SESSIONS_PER_POST = {"bluesky": (6, 10), "mastodon": (2, 5), "x": (1, 4), "linkedin": (1, 3)}
SIGNUP_RATE = {"bluesky": 0.0, "mastodon": 0.14, "x": 0.05, "linkedin": 0.12}
# What a sign-up from a post without a prompt buys, per channel (LinkedIn: offices).
CHANNEL_PRICES = {"linkedin": (32000, 240000), "mastodon": (14900, 29800)}
FIRST_NAMES = ("Ola", "Kuba", "Marta", "Piotr", "Zofia", "Tomek", "Ania", "Bartek", "Ewa",
               "Igor", "Lena", "Michał", "Nina", "Olek", "Paula", "Radek", "Sara", "Wiktor",
               "Hania", "Janek", "Kasia", "Leon", "Maja", "Szymon")
CONVERSION_DAYS = 35
TRIAGED_AFTER = timedelta(days=3)


def _seed_prompts(session: Session, workspace: Workspace, people: list, accounts_: list,
                  now: datetime) -> list[tuple[Post, list[Publication]]]:
    """Published posts with a DM prompt, so DMs have something to answer."""
    from planner.conversions import inbox

    zone = ZoneInfo(workspace.timezone)
    today = now.astimezone(zone).date()
    by_platform = {a.platform: a for a in accounts_}
    out = []
    for days_ago, hour, quadrant, text, keyword, url, platforms in DEMO_PROMPTS:
        local = datetime.combine(today - timedelta(days=days_ago), time(hour, 0), tzinfo=zone)
        when = local.astimezone(UTC)
        post = Post(workspace_id=workspace.id or 0, author_id=people[2].id, text=text,
                    tags=quadrant, status=PostStatus.approved, scheduled_at=when,
                    scheduled_local=local.strftime("%Y-%m-%dT%H:%M"),
                    scheduled_tz=workspace.timezone, dm_keyword=keyword, dm_product_url=url,
                    created_at=when - timedelta(days=2), updated_at=when - timedelta(days=1),
                    submitted_at=when - timedelta(days=1))
        session.add(post)
        session.flush()
        publications = []
        for platform in platforms:
            account = by_platform[platform]
            publication = Publication(
                post_id=post.id or 0, account_id=account.id, workspace_id=workspace.id or 0,
                scheduled_at=when, due_at=when, status=PublicationStatus.published,
                idempotency_key=f"poise-demo-{post.id}-{account.id}",
                published_at=when + timedelta(seconds=2), updated_at=when,
                remote_id=f"demo-{post.id}-{account.id}")
            session.add(publication)
            publications.append(publication)
        session.flush()
        inbox.set_auto_reply(session=session, post=post, enabled=True)
        out.append((post, publications))
    return out


def _seed_conversions(session: Session, workspace: Workspace, people: list, accounts_: list,
                      prompts: list[tuple[Post, list[Publication]]], now: datetime) -> None:
    """Five weeks of visits, sign-ups, DM conversations, qualified leads and sales."""
    from planner.models_conversions import Touchpoint

    rng = random.Random(14)
    start = now - timedelta(days=CONVERSION_DAYS)
    by_id = {a.id: a for a in accounts_}
    published = session.exec(select(Publication).where(
        Publication.workspace_id == workspace.id,
        Publication.status == PublicationStatus.published,
        col(Publication.published_at) >= start).order_by(col(Publication.published_at))).all()
    visits: list[Touchpoint] = []
    for pub in published:
        account = by_id[pub.account_id]
        low, high = SESSIONS_PER_POST[account.platform]
        for _ in range(rng.randint(low, high)):
            at = (pub.published_at or now) + timedelta(hours=rng.expovariate(1 / 10))
            if at >= now:
                continue
            visit = Touchpoint(workspace_id=workspace.id or 0, kind="session", at=at,
                               visitor_id=f"demo-visitor-{len(visits):06d}",
                               account_id=account.id, publication_id=pub.id,
                               post_id=pub.post_id, referrer="")
            session.add(visit)
            visits.append(visit)
    session.flush()
    names = _names(rng)
    prices = {post.id: PRICES[post.dm_keyword] for post, _ in prompts}
    for visit in visits:
        account = by_id[visit.account_id]
        if rng.random() >= SIGNUP_RATE[account.platform]:
            continue
        name = next(names)
        contact = _contact(session, workspace, {"visitor": visit.visitor_id or "",
                                                "email": _email(name)}, name, "shop",
                           visit.at + timedelta(minutes=rng.randint(3, 40)))
        price = prices.get(visit.post_id) or CHANNEL_PRICES.get(account.platform, (6900, 13900))
        _progress(session, contact, rng, now, visit.at, price, people, source="shop")
    x = next((a for a in accounts_ if a.platform == "x"), None)
    if x is not None:
        _seed_dms(session, x, prompts, people, rng, names, now)
    # The team keeps up: what arrived more than three days ago has been triaged (followed up
    # by e-mail or in the DM), so the Inbox badge counts the last days' newcomers only.
    for contact in session.exec(select(Contact).where(
            Contact.workspace_id == workspace.id, Contact.status == ContactStatus.new)).all():
        if (contact.last_message_at or contact.created_at) < now - TRIAGED_AFTER:
            contact.status = ContactStatus.talking
            contact.assignee_id = contact.assignee_id or people[2].id
            session.add(contact)
    session.flush()


def _names(rng: random.Random) -> Iterator[str]:
    count = 0
    while True:
        count += 1
        yield f"{rng.choice(FIRST_NAMES)} {chr(65 + rng.randrange(26))}. ({count})"


def _email(name: str) -> str:
    first = name.split(" ")[0].lower().replace("ł", "l")
    number = name.rsplit("(", 1)[-1].rstrip(")")
    return f"{first}.{number}@example.com"


def _contact(session: Session, workspace: Workspace, identities: dict[str, str], name: str,
             source: str, at: datetime) -> Contact:
    from planner.conversions import contacts

    contact, _ = contacts.identify(session=session, workspace_id=workspace.id or 0,
                                   identities=identities, name=name.split(" (")[0],
                                   source=source, now=at)
    return contact


def _progress(session: Session, contact: Contact, rng: random.Random, now: datetime,
              since: datetime, price: tuple[int, int], people: list, *, source: str,
              qualify: float = 0.5, buy: float = 0.6) -> None:
    """Some contacts become qualified leads, some of those buy (every event before now)."""
    from planner.conversions import contacts

    qualified_at = since + timedelta(hours=rng.randint(6, 72))
    if rng.random() >= qualify or qualified_at >= now:
        return
    contacts.record_event(session=session, contact=contact, kind=EventKind.qualified,
                          source=source, at=qualified_at, actor_id=people[2].id)
    sold_at = qualified_at + timedelta(hours=rng.randint(12, 120))
    if rng.random() >= buy or sold_at >= now:
        return
    amount = price[1] if rng.random() < 0.25 else price[0]
    contacts.record_event(session=session, contact=contact, kind=EventKind.sale,
                          source=source, at=sold_at, amount_cents=amount, currency="PLN",
                          external_id=f"JCR-{1000 + (contact.id or 0)}",
                          actor_id=people[2].id)


DM_OPENERS = ("{k}!", "Hi! {k} for me", "{k} :)", "Could I get the {k} link?", "{k} - for two",
              "hey, {k}")
DM_FOLLOW_UPS = ("Thanks! Does it ship to Kraków?", "Great, is there a decaf option?",
                 "Lovely. Can I pick it up at the bar instead?",
                 "Do you invoice companies? We are 14 people.")
DM_ANSWERS = ("Yes, in 1-2 working days, and free over 120 zł.",
              "We do: the Huila decaf, same price.",
              "Of course: choose 'pick up' at checkout and we will have it ready.",
              "We do, with your company's VAT number at checkout.")


def _seed_dms(session: Session, x: Account, prompts: list[tuple[Post, list[Publication]]],
              people: list, rng: random.Random, names: Iterator[str], now: datetime) -> None:
    """DMs answering the X prompts: the auto-reply with the link, a question and a person's
    answer, some leads and sales; the newest two wait in the Inbox for a reply."""
    from planner.conversions import inbox

    sender = 3000000000
    newest: list[Contact] = []
    for post, publications in prompts:
        if not any(p.account_id == x.id for p in publications):
            continue
        published = next(p.published_at for p in publications if p.account_id == x.id)
        for _ in range(rng.randint(4, 7)):
            sender += 1
            at = (published or now) + timedelta(minutes=rng.randint(20, 40 * 60))
            if at >= now - timedelta(minutes=30):
                continue
            name = next(names)
            text = rng.choice(DM_OPENERS).format(k=post.dm_keyword.lower()
                                                 if rng.random() < 0.4 else post.dm_keyword)
            result = inbox.record_dm(session=session, account=x, sender_id=str(sender),
                                     text=text, remote_id=f"demo-dm-{sender}",
                                     sender_name=name.split(" (")[0], at=at, auto_reply=False)
            contact = result.contact
            newest.append(contact)
            link = f"Here is the link: {post.dm_product_url}"
            _message(session, contact, x, post, "out", "auto", link,
                     at + timedelta(seconds=40), None)
            if rng.random() < 0.6:
                pick = rng.randrange(len(DM_FOLLOW_UPS))
                asked = at + timedelta(minutes=rng.randint(5, 90))
                answered = asked + timedelta(minutes=rng.randint(10, 240))
                if answered < now:
                    _message(session, contact, x, post, "in", "dm",
                             DM_FOLLOW_UPS[pick], asked, None)
                    _message(session, contact, x, post, "out", "dm", DM_ANSWERS[pick],
                             answered, people[2].id)
                    contact.status = ContactStatus.talking
                    contact.assignee_id = people[2].id
                    _progress(session, contact, rng, now, answered, PRICES[post.dm_keyword],
                              people, source="inbox", qualify=0.6, buy=0.7)
            session.add(contact)
    # The two newest conversations wait for a person: their question has no answer yet.
    open_ = sorted((c for c in newest if c.status in (ContactStatus.new, ContactStatus.talking)
                    and c.last_message_at is not None),
                   key=lambda c: c.last_message_at or now)
    for contact in open_[-2:]:
        last = contact.last_message_at or now
        when = min(last + timedelta(hours=2), now - timedelta(minutes=10))
        if when <= last:
            continue
        _message(session, contact, x, None, "in", "dm",
                 "Quick question before I order: do you deliver on Saturdays?", when, None)
        contact.status = ContactStatus.new
        contact.assignee_id = None
        session.add(contact)
    session.flush()


def _message(session: Session, contact: Contact, account: Account, post: Post | None,
             direction: str, kind: str, text: str, at: datetime, author_id: int | None) -> None:
    session.add(Message(workspace_id=account.workspace_id, contact_id=contact.id or 0,
                        account_id=account.id, post_id=post.id if post else None,
                        channel=account.platform, direction=direction, kind=kind,
                        delivery="received" if direction == "in" else "sent", text=text, at=at,
                        author_id=author_id))
    last = contact.last_message_at
    contact.last_message_at = max(at, last) if last else at
