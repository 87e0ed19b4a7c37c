"""DM prompts: the call to action, the deep link that opens a conversation, UTM-tagged links.

``final_text()`` is the one place the text sent to a platform is built, so the composer's
preview, validation before approval and the adapter's publish call all see the same string.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import regex

from publishers.base import AccountRef, Content, DmPrompt, Problem
from publishers.text import TextCount, count

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
_REF_UNSAFE = regex.compile(r"[^A-Za-z0-9_=-]+")
_DIGITS = regex.compile(r"\D+")


@dataclass(frozen=True)
class RenderedPrompt:
    call_to_action: str
    deep_link: str  # opens a DM with the account; "" where the platform has none
    product_url: str  # the product link with UTM parameters, for the reply in the DM
    suffix: str  # what is appended to the post text


@dataclass(frozen=True)
class Preview:
    text: str
    count: TextCount
    problems: tuple[Problem, ...]
    prompt: RenderedPrompt | None


def with_utm(url: str, *, source: str, campaign: str = "", content: str = "",
             medium: str = "social") -> str:
    """``url`` with UTM parameters set; other query parameters and the fragment are kept.

    Our values replace same-named ones (the channel must be right for attribution); an empty
    campaign or content leaves any existing value alone.
    """
    parts = urlsplit(url)
    ours = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign,
            "utm_content": content}
    ours = {key: value for key, value in ours.items() if value}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    query = urlencode(kept + list(ours.items()), quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _ref(prompt: DmPrompt, content: Content) -> str:
    raw = f"{prompt.keyword}_{content.post_ref}" if content.post_ref else prompt.keyword
    return _REF_UNSAFE.sub("-", raw).strip("-")[:250]


def _prefill(prompt: DmPrompt) -> str:
    return prompt.prefill or prompt.keyword


def x_deep_link(recipient_id: str, prefill: str) -> str:
    query = urlencode({"recipient_id": recipient_id, "text": prefill}, quote_via=quote)
    return f"https://twitter.com/messages/compose?{query}"


def instagram_deep_link(username: str, ref: str) -> str:
    return f"https://ig.me/m/{quote(username.lstrip('@'), safe='')}?" + urlencode(
        {"ref": ref}, quote_via=quote)


def messenger_deep_link(page: str, ref: str, prefill: str) -> str:
    return f"https://m.me/{quote(page.lstrip('@'), safe='')}?" + urlencode(
        {"ref": ref, "text": prefill}, quote_via=quote)


def whatsapp_deep_link(number: str, prefill: str) -> str:
    return f"https://wa.me/{_DIGITS.sub('', number)}?" + urlencode(
        {"text": prefill}, quote_via=quote)


def deep_link(prompt: DmPrompt, content: Content, account: AccountRef) -> str:
    """The platform's DM deep link; WhatsApp where the account has a number; else ""."""
    platform = account.platform
    if platform == "x" and account.external_id.isdigit():
        return x_deep_link(account.external_id, _prefill(prompt))
    if platform == "instagram" and account.handle:
        return instagram_deep_link(account.handle, _ref(prompt, content))
    if platform == "facebook" and account.handle:
        return messenger_deep_link(account.handle, _ref(prompt, content), _prefill(prompt))
    number = account.credentials.get("whatsapp_number", "")
    if number:
        return whatsapp_deep_link(number, _prefill(prompt))
    return ""


def render_prompt(content: Content, account: AccountRef) -> RenderedPrompt | None:
    prompt = content.dm_prompt
    if prompt is None:
        return None
    cta = prompt.call_to_action or f"DM us {prompt.keyword} for the link"
    product = content.tracked(prompt.product_url) or with_utm(
        prompt.product_url, source=account.platform, campaign=content.utm_campaign,
        content=content.post_ref)
    link = deep_link(prompt, content, account)
    # Without a DM deep link the reader still needs somewhere to go: the tagged product link.
    suffix = f"{cta} {link or product}".strip()
    return RenderedPrompt(call_to_action=cta, deep_link=link, product_url=product,
                          suffix=suffix)


def tagged_link(content: Content, account: AccountRef) -> str | None:
    if not content.link:
        return None
    return content.tracked(content.link) or with_utm(
        content.link, source=account.platform, campaign=content.utm_campaign,
        content=content.post_ref)


def final_text(content: Content, account: AccountRef) -> str:
    """The exact text the platform receives: text, tagged link, call to action.

    A link already written in the text is replaced by its tagged form; otherwise it is
    appended (Facebook and the webhook carry it as a separate field, so not appended there).
    """
    text = content.text.rstrip()
    link = tagged_link(content, account)
    if content.link and link:
        if content.link in text:
            text = text.replace(content.link, link)
        elif account.platform not in ("facebook", "webhook"):
            text = f"{text}\n\n{link}" if text else link
    rendered = render_prompt(content, account)
    if rendered is not None:
        text = f"{text}\n\n{rendered.suffix}" if text else rendered.suffix
    return text


def text_problems(content: Content, account: AccountRef) -> list[Problem]:
    """Length problems of the final text, saying how much to cut."""
    counted = count(account.platform, final_text(content, account),
                    limit_override=account.text_limit)
    problems = []
    for message in counted.problems:
        if counted.remaining is not None and counted.remaining < 0 and content.dm_prompt:
            message += " (the text includes the DM call to action and its link)"
        problems.append(Problem("text", message))
    prompt = content.dm_prompt
    if prompt is not None:
        if not prompt.keyword.strip():
            problems.append(Problem("dm_prompt", "The DM prompt needs a keyword."))
        if not urlsplit(prompt.product_url).scheme.startswith("http"):
            problems.append(Problem("dm_prompt", "The product link must start with https://."))
        if account.platform == "x" and not account.external_id.isdigit():
            problems.append(Problem(
                "dm_prompt", "X DM links need the account's numeric user id; reconnect it."))
    return problems


def preview(content: Content, account: AccountRef) -> Preview:
    """What the UI shows: the final text, its count and any problems."""
    text = final_text(content, account)
    counted = count(account.platform, text, limit_override=account.text_limit)
    return Preview(text=text, count=counted,
                   problems=tuple(text_problems(content, account)),
                   prompt=render_prompt(content, account))
