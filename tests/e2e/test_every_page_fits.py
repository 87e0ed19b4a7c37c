"""Every page a person reaches from the navigation fits a phone (390 px) and a laptop (1366 px):
no sideways scrolling of the page, no script error or CSP violation in the console.

A crawl from the workspace home through the links each role sees (one page of each kind: the
numbers in a path are folded, so /posts/16 and /posts/17 count once), in real Chromium. Wide
data tables may scroll inside their own box; the page itself may not.
"""

from __future__ import annotations

import re

import pytest
from browserhelpers import log_in

PHONE = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 390, "height": 844},
         "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
DESK = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 1366, "height": 900}}
SKIP = re.compile(r"^/(logout|r/|api/|media/|static/)|\.(csv|ics)\b|/export")
MAX_PAGES = 60

# Elements sticking out past the viewport that are not inside a box that scrolls or clips.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let p = el.parentElement, contained = false;
    while (p) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { contained = true; break; }
      p = p.parentElement;
    }
    if (!contained) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                             ' right=' + Math.round(box.right));
  }
  return {scroll: document.documentElement.scrollWidth - width, culprits: out.slice(0, 5)};
}"""


def _crawl(page, base: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    todo, seen = [page.url.removeprefix(base)], set()
    while todo and len(seen) < MAX_PAGES:
        href = todo.pop(0)
        kind = re.sub(r"\d+", "N", href.split("?")[0])
        if kind in seen:
            continue
        seen.add(kind)
        console.clear()
        response = page.goto(base + href)
        page.wait_for_load_state("networkidle")
        if response is None or response.status != 200:
            problems[href] = f"status {response.status if response else 'none'}"
            continue
        found = page.evaluate(OVERFLOWING)
        if found["scroll"] > 0:
            problems[href] = f"scrolls sideways by {found['scroll']} px: {found['culprits']}"
        if console:
            problems[href] = problems.get(href, "") + f" console: {console[:3]}"
        for link in page.eval_on_selector_all(
                "a[href^='/']", "els => els.map(e => e.getAttribute('href'))"):
            if not SKIP.search(link):
                todo.append(link)
    assert len(seen) >= 10, f"the crawl reached only {sorted(seen)}"
    return problems


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390px", "1366px"])
@pytest.mark.parametrize("email", ["admin@poise.local", "lead@poise.local",
                                   "manager@poise.local"])
def test_every_page_fits_without_sideways_scrolling(browser, server, viewport, email):
    context = browser.new_context(**viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, server, email)
        problems = _crawl(page, server)
    finally:
        context.close()
    assert not problems, "\n".join(f"{href}: {what}" for href, what in problems.items())
