"""The composer counts what is sent: for a corpus of posts (emoji, CJK, URLs, DM prompts,
per-account variants), what the composer shows and counts equals what the real worker,
through the real adapters, delivers to the loopback fakes of Mastodon, Bluesky and X."""

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from planner import posts
from planner.accounts import connections
from planner.db import session_scope
from planner.models import Account, Post, Publication, PublicationStatus, Role, Workspace
from planner.posts import textrules
from planner.publishing.dispatch import DispatchConfig
from planner.publishing.jobs import start_worker
from planner.settings import Settings
from publishers.text import count
from sandbox import EXTERNAL_IDS, credentials_for

PLATFORMS = {"mastodon": "@brand@fake.social", "bluesky": "brand.bsky.social",
             "x": "@brandx"}

CORPUS = [
    {"text": "Morning ☀️ coffee ☕ and 👩‍👩‍👧 family time 🇵🇱 at the shop",
     "link": "https://brand.example/morning?ref=feed"},
    {"text": "新しい春のコレクション、今日から販売開始です。東京の店舗でもお待ちしています。",
     "dm_keyword": "HARU", "dm_product_url": "https://shop.example/haru?size=m",
     "dm_prefill": "HARU please"},
    {"text": "Read the guide at https://brand.example/guide and tell us 🙌",
     "link": "https://brand.example/guide"},
    {"text": "Three steps: 1️⃣ cleanse 2️⃣ tone #️⃣ glow. Ünïcödé café, naïve résumé.",
     "link": "https://brand.example/steps", "dm_keyword": "GLOW",
     "dm_product_url": "https://shop.example/glow", "dm_call_to_action": "DM us GLOW now",
     "variant_for": "bluesky", "variant": "Bluesky gets its own words 🦋 ✨ 한국어 텍스트"},
]



def test_counter_equals_what_the_fake_receives(world, engine, fake):
    shown: dict[tuple[int, str], tuple[str, int]] = {}
    with session_scope(engine) as s:
        accounts = {platform: connections.connect(
            session=s, workspace_id=world.workspace_id, platform=platform, handle=handle,
            api_base=fake.base_url, credentials=credentials_for(platform, handle),
            external_id=EXTERNAL_IDS[platform], actor_id=None, check=False)
            for platform, handle in PLATFORMS.items()}
        for other in s.exec(select(Account).where(Account.api_base != fake.base_url)):
            other.status = "paused"
        ws = s.get(Workspace, world.workspace_id)
        now = datetime.now(UTC)
        local = (now + timedelta(minutes=2)).astimezone(ZoneInfo(ws.timezone))
        manager = posts.Actor(user_id=world.admin_id, role=Role.manager, workspace=ws)
        lead = posts.Actor(user_id=world.admin_id, role=Role.brand_lead, workspace=ws)
        for item in CORPUS:
            variants = {accounts[item["variant_for"]].id: item["variant"]} \
                if "variant_for" in item else {}
            post = posts.create_post(session=s, actor=manager, now=now, data=posts.PostInput(
                text=item["text"], account_ids=[a.id for a in accounts.values()],
                variants=variants, tags=["try"], link=item.get("link", ""),
                dm_keyword=item.get("dm_keyword", ""),
                dm_product_url=item.get("dm_product_url", ""),
                dm_prefill=item.get("dm_prefill", ""),
                dm_call_to_action=item.get("dm_call_to_action", ""),
                scheduled_local=local.strftime("%Y-%m-%dT%H:%M")))
            for platform, account in accounts.items():
                # What the composer shows for an unsaved form: the typed text or variant.
                typed = variants.get(account.id) or item["text"]
                preview = textrules.as_sent(post=post, publication=None, account=account,
                                            text=typed, session=s)
                assert not preview.problems, preview.problems
                shown[(post.id, platform)] = (preview.text, preview.count.used)
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=now)
            posts.approve(session=s, actor=lead, post_id=post.id, expected_version=2,
                          now=now, confirm_balance=True)
        post_ids = [p.id for p in s.exec(select(Post))]

    settings = Settings(tick_seconds=0.2, worker_threads=4)
    handle = start_worker(settings, engine=engine, config=DispatchConfig.from_settings(
        settings, clock_skew_seconds=180))
    deadline = time.monotonic() + 60
    try:
        while True:
            with session_scope(engine) as s:
                states = [p.status for p in s.exec(select(Publication).where(
                    Publication.post_id.in_(post_ids)))]
            if all(st == PublicationStatus.published for st in states):
                break
            assert time.monotonic() < deadline, f"not published: {states}"
            time.sleep(0.1)
    finally:
        handle.stop(wait=True)

    received = {}
    for create in fake.creates:
        if create.platform == "mastodon":
            received.setdefault("mastodon", []).append(create.body["status"])
        elif create.platform == "bluesky":
            received.setdefault("bluesky", []).append(create.body["record"]["text"])
        elif create.platform == "x":
            received.setdefault("x", []).append(create.body["text"])
    assert sorted(len(v) for v in received.values()) == [len(CORPUS)] * 3
    placeholder = re.escape("/r/" + textrules.PLACEHOLDER_CODE)
    for (post_id, platform), (text, used) in shown.items():
        pattern = re.compile(re.escape(text).replace(placeholder, "/r/[A-Za-z0-9_-]{9}"))
        matches = [t for t in received[platform] if pattern.fullmatch(t)]
        assert len(matches) == 1, (platform, text, received[platform])
        # The number beside the text box is the platform's count of what arrived.
        assert count(platform, matches[0]).used == used, (platform, matches[0])
