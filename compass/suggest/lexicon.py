"""A transparent word-list suggester: no dependencies, explains itself.

Each quadrant has a curated list of words and phrases (written for this compass, not taken
from any values survey), each with a weight. Text and entries are lowercased and lightly
stemmed (``sharing``/``shared``/``share`` all match), phrases match as whole word runs, and
each entry counts once per post. The quadrant with the highest total wins when the total
reaches ``min_score`` and leads the runner-up by ``min_margin``; otherwise there is no
suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.base import Suggestion, ranked

__all__ = ["DEFAULT_LEXICON", "LexiconSuggester", "normalise", "stem"]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DOUBLED = re.compile(r"([bdfgkmnprt])\1$")

# Weight 2: a clear signal on its own. Weight 1: typical. Weight 0.5: weak or ambiguous.
DEFAULT_LEXICON: dict[Quadrant, dict[str, float]] = {
    Quadrant.TRY: {
        "try": 1.5,
        "give it a go": 2,
        "have a go": 2,
        "ever tried": 2,
        "never tried": 2,
        "have you ever": 1.5,
        "ever done": 1.5,
        "new": 1,
        "brand new": 1,
        "new in": 1.5,
        "just landed": 2,
        "is back": 1.5,
        "is here": 1.5,
        "now live": 1.5,
        "is live": 1,
        "launch": 2,
        "launching": 2,
        "introducing": 2,
        "debut": 1.5,
        "first": 0.5,
        "be the first": 2,
        "be first": 2,
        "first to": 1.5,
        "first batch": 1.5,
        "early access": 2,
        "beta": 2,
        "waitlist": 2,
        "pre-order": 2,
        "labs": 1.5,
        "switch it on": 1.5,
        "drop": 1,
        "drops": 1,
        "limited edition": 2,
        "limited-edition": 2,
        "once it's gone": 2,
        "only": 0.5,
        "this weekend only": 1.5,
        "pop-up": 1.5,
        "mystery": 2,
        "unlock": 1.5,
        "special": 1,
        "dare": 2,
        "brave": 2,
        "bold": 1,
        "adventure": 2,
        "explore": 2,
        "discover": 1.5,
        "experiment": 2,
        "experimental": 2,
        "test ride": 2,
        "test-drive": 2,
        "demo": 1.5,
        "challenge": 1.5,
        "up for it": 2,
        "who's in": 1.5,
        "your sign": 1.5,
        "twist": 1.5,
        "something different": 2,
        "comfort zone": 2,
        "opens": 1,
        "escape": 1,
        "flavour": 0.5,
        "flavours": 0.5,
        "season": 0.5,
        "your chance": 1.5,
        "dip a toe": 2,
        "set your alarm": 1.5,
        "sells out": 1.5,
        "before it sells out": 1.5,
        "go for it": 1.5,
    },
    Quadrant.SHARE: {
        "share": 2,
        "tag": 2,
        "tag a friend": 2,
        "tag someone": 2,
        "tag your": 2,
        "comment": 1.5,
        "comments": 1,
        "in the comments": 1.5,
        "comment below": 2,
        "reply": 1,
        "replies": 1.5,
        "in the replies": 2,
        "vote": 2,
        "voted": 1.5,
        "voting": 2,
        "poll": 2,
        "tell us": 1.5,
        "show us": 2,
        "send us": 1.5,
        "post your": 2,
        "post a photo": 2,
        "your photos": 1.5,
        "your look": 1.5,
        "your story": 1,
        "repost": 2,
        "retweet": 2,
        "caption this": 2,
        "duet": 2,
        "stitch": 2,
        "join our": 1.5,
        "join in": 2,
        "community": 0.5,
        "together": 0.5,
        "friend": 1,
        "friends": 1,
        "mate": 1.5,
        "buddy": 1.5,
        "squad": 2,
        "group ride": 2,
        "everyone": 0.5,
        "bring a friend": 2,
        "bring-a-friend": 2,
        "refer a friend": 2,
        "pass this on": 2,
        "we'll feature": 2,
        "feature you": 2,
        "designed with you": 2,
        "co-created": 2,
        "co-create": 2,
        "let's settle": 2,
        "which": 1,
        "what's your": 1.5,
        "what's the": 1,
        "drop it": 1.5,
        "wins": 1,
        "giveaway": 2,
        "open mic": 2,
        "swap": 1.5,
        "book swap": 2,
        "chat with": 1,
        "meetup": 2,
        "pick the": 1.5,
        "name our": 2,
        "customer story": 1.5,
        "your favourite": 1,
        "your own": 1,
        "reply with": 2,
    },
    Quadrant.CARE: {
        "donate": 2,
        "donation": 2,
        "donations": 2,
        "charity": 2,
        "shelter": 2,
        "food bank": 2,
        "volunteer": 2,
        "volunteers": 2,
        "thank you": 1,
        "thanks to you": 2,
        "support team": 2,
        "hardship": 2,
        "here for you": 2,
        "here to help": 2,
        "we're here": 1.5,
        "help": 0.5,
        "safe": 1.5,
        "stay safe": 2,
        "safety": 2,
        "scam": 2,
        "fraud": 2,
        "protect": 1.5,
        "living wage": 2,
        "recycled": 2,
        "compostable": 2,
        "plastic-free": 2,
        "sustainable": 2,
        "planet": 2,
        "trees": 1.5,
        "planted": 1.5,
        "waste": 1.5,
        "less waste": 2,
        "refill": 1.5,
        "no judgement": 2,
        "wellbeing": 2,
        "mental health": 2,
        "mentalhealthmatters": 2,
        "counselling": 2,
        "sorry": 2,
        "apologise": 2,
        "refund": 1.5,
        "no questions asked": 2,
        "accessible": 2,
        "screen readers": 2,
        "screen reader": 2,
        "low-vision": 2,
        "sensitive": 1,
        "listening to your feedback": 2,
        "families": 1.5,
        "retirement": 2,
        "nurses": 2,
        "carers": 2,
        "on us": 1.5,
        "heal": 2,
        "injury": 1.5,
        "disrupted": 1.5,
        "change for free": 2,
        "give back": 2,
        "giving back": 2,
        "we'll match": 2,
        "school": 1,
        "children": 1,
        "kids": 0.5,
        "staff": 1,
        "whole team": 1.5,
        "warning": 1,
        "alert": 0.5,
        "24/7": 1.5,
        "24-hour": 1.5,
        "real person": 2,
        "free for": 0.5,
        "meals": 1.5,
        "audit": 1,
        "comes first": 1.5,
        "walk you through": 1,
        "trouble": 1,
        "we will never": 2,
    },
    Quadrant.LEARN: {
        "learn": 2,
        "how to": 2,
        "how we": 1.5,
        "how a": 1.5,
        "how much": 1,
        "why": 1,
        "here's why": 2,
        "why we": 1.5,
        "what is": 1.5,
        "what actually": 2,
        "explained": 2,
        "explainer": 2,
        "explain": 2,
        "explains": 2,
        "guide": 2,
        "step-by-step": 2,
        "tips": 2,
        "tip": 1.5,
        "trick": 1.5,
        "101": 2,
        "cheat sheet": 2,
        "decoder": 2,
        "behind the scenes": 2,
        "behind-the-scenes": 2,
        "the difference": 2,
        "myth": 2,
        "myths": 2,
        "break it down": 2,
        "in plain words": 2,
        "the short version": 2,
        "docs": 1.5,
        "tutorial": 2,
        "wrote up": 2,
        "blog": 0.5,
        "our data": 1.5,
        "rule": 1.5,
        "method": 1.5,
        "mistakes": 1,
        "instead": 1,
        "save this": 1.5,
        "swipe": 1,
        "thread": 1,
        "where does": 1.5,
        "means": 1,
        "matters": 0.5,
        "order": 0.5,
        "start with": 1.5,
        "short version": 1,
        "advice": 1.5,
        "ways to": 1.5,
        "on how": 1.5,
        "size guide": 2,
        "lesson": 2,
        "masterclass": 2,
        "workshop": 1.5,
        "did you know": 2,
        "fact": 1.5,
        "the science": 2,
    },
}


def stem(word: str) -> str:
    """A tiny suffix stripper: ``sharing``, ``shared``, ``shares`` and ``share`` agree."""
    word = word.removesuffix("'s")
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    word = _DOUBLED.sub(r"\1", word)
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def normalise(text: str) -> list[str]:
    """Lowercased, stemmed word tokens (hashtags and mentions lose their sign)."""
    text = text.lower().replace("\u2019", "'").replace("-", " ")
    return [stem(token) for token in _TOKEN.findall(text)]


@dataclass(frozen=True)
class _Entry:
    phrase: str
    tokens: tuple[str, ...]
    weight: float


@dataclass
class LexiconSuggester:
    """Suggests tags from curated per-quadrant word lists.

    Args:
        lexicon: per quadrant, ``{word or phrase: weight}``; defaults to ``DEFAULT_LEXICON``.
        min_score: the winner's total weight needed for a suggestion.
        min_margin: how far the winner must lead the runner-up.
        second_ratio: a runner-up scoring at least this fraction of the winner (and at
            least ``min_score``) is suggested as a second tag.
    """

    lexicon: Mapping[Quadrant, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_LEXICON)
    min_score: float = 0.5
    min_margin: float = 0.5
    second_ratio: float = 0.8
    source: str = "lexicon"

    def __post_init__(self) -> None:
        # Spelling variants ("pre-order"/"pre order") normalise alike; keep one, the heaviest.
        self._entries: dict[Quadrant, list[_Entry]] = {}
        for q in QUADRANTS_ORDER:
            unique: dict[tuple[str, ...], _Entry] = {}
            for phrase, weight in self.lexicon.get(q, {}).items():
                entry = _Entry(phrase, tuple(normalise(phrase)), float(weight))
                kept = unique.get(entry.tokens)
                if entry.tokens and (kept is None or kept.weight < entry.weight):
                    unique[entry.tokens] = entry
            self._entries[q] = list(unique.values())

    def matches(self, text: str) -> dict[Quadrant, list[tuple[str, float]]]:
        """The entries found in ``text`` per quadrant, as (phrase, weight)."""
        tokens = normalise(text)
        joined = " " + " ".join(tokens) + " "
        found: dict[Quadrant, list[tuple[str, float]]] = {q: [] for q in QUADRANTS_ORDER}
        for quadrant, entries in self._entries.items():
            for entry in entries:
                if f" {' '.join(entry.tokens)} " in joined:
                    found[quadrant].append((entry.phrase, entry.weight))
        return found

    def suggest(self, text: str) -> Suggestion:
        """Suggest tags for ``text`` (see the class docstring for the rule)."""
        found = self.matches(text)
        scores = {q: sum(w for _, w in found[q]) for q in QUADRANTS_ORDER}
        order = ranked(scores)
        best, runner_up = order[0], order[1]
        if scores[best] < self.min_score or scores[best] - scores[runner_up] < self.min_margin:
            why = "Not enough evidence in the wording to suggest a quadrant"
            if scores[best] > 0:
                why += f" (closest: {best.label}, {_words(found[best])})"
            return Suggestion((), scores, why, self.source)
        tags: tuple[Quadrant, ...] = (best,)
        if scores[runner_up] >= max(self.min_score, self.second_ratio * scores[best]):
            tags = (best, runner_up)
        why = "; ".join(f"{q.label}: {_words(found[q])}" for q in tags)
        return Suggestion(tags, scores, f"Suggested from the words {why}", self.source)


def _words(matches: list[tuple[str, float]]) -> str:
    strongest = sorted(matches, key=lambda m: -m[1])[:4]
    return ", ".join(f"'{phrase}'" for phrase, _ in strongest)
