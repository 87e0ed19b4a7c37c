"""Combined strategy: embedding similarity nudged by lexicon evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.base import Suggestion, ranked
from compass.suggest.embedding import EmbeddingSuggester
from compass.suggest.lexicon import LexiconSuggester, normalise

__all__ = ["CombinedSuggester"]


@dataclass
class CombinedSuggester:
    """Embedding score plus ``lexicon_weight`` times the lexicon score, per quadrant.

    The embedding reads meaning; the lexicon catches explicit calls to action ("tag a
    friend", "how to") that a small embedding model can blur. The ``why`` names both.

    No suggestion when the evidence is thin:

    - the best combined score is below the embedding's ``min_score``; or
    - the text is shorter than ``min_words`` words ("Happy Monday!") or, when
      ``min_margin`` is set, the meaning is a near tie, *and* the wording gives the winner
      less than ``min_wording`` of lexicon weight (one typical word such as "new" is enough).

    ``min_margin`` is off by default: on the evaluation set every margin that withheld near
    ties withheld more right answers than wrong ones (docs/compass.md), and a wrong
    suggestion costs the same one click as no suggestion.
    """

    embedding: EmbeddingSuggester = field(default_factory=EmbeddingSuggester)
    lexicon: LexiconSuggester = field(default_factory=LexiconSuggester)
    lexicon_weight: float = 0.03
    min_margin: float = 0.0
    min_words: int = 3
    min_wording: float = 1.0
    source: str = "combined"

    def suggest(self, text: str) -> Suggestion:
        """Suggest tags for ``text``."""
        return self.suggest_many([text])[0]

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """Suggestions for many texts (one embedding batch)."""
        embedded = self.embedding.suggest_many(texts)
        return [self._merge(e, t) for e, t in zip(embedded, texts, strict=True)]

    def _merge(self, embedded: Suggestion, text: str) -> Suggestion:
        matches = self.lexicon.matches(text)
        lexical = {q: sum(w for _, w in matches[q]) for q in QUADRANTS_ORDER}
        scores: dict[Quadrant, float] = {
            q: embedded.scores.get(q, 0.0) + self.lexicon_weight * lexical[q]
            for q in QUADRANTS_ORDER
        }
        best, runner_up = ranked(scores)[:2]
        if scores[best] < self.embedding.min_score:
            return Suggestion((), scores, "Too close to call", self.source)
        close = scores[best] - scores[runner_up] < self.min_margin
        short = len(normalise(text)) < self.min_words
        if (close or short) and lexical[best] < self.min_wording:
            reason = "Too little text" if short else "Too close to call"
            return Suggestion(
                (),
                scores,
                f"{reason} to suggest a quadrant (closest: {best.label}, then "
                f"{runner_up.label}); tag it by hand",
                self.source,
            )
        why = f"Closest in meaning to {best.label}"
        if self.embedding.examples:
            why += " (descriptions and your confirmed examples)"
        words = [phrase for phrase, _ in matches[best]][:4]
        if words:
            why += "; wording: " + ", ".join(f"'{w}'" for w in words)
        return Suggestion((best,), scores, why, self.source)
