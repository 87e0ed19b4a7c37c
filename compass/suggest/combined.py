"""Combined strategy: embedding similarity, a trained head on the embedding, naive Bayes on the
wording, and lexicon evidence, added per quadrant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.base import Suggestion, ranked
from compass.suggest.bayes import BayesSuggester, features, shared_bayes
from compass.suggest.embedding import EmbeddingSuggester
from compass.suggest.head import Head, load_head
from compass.suggest.lexicon import LexiconSuggester, normalise

__all__ = ["CombinedSuggester"]


@dataclass
class CombinedSuggester:
    """Per quadrant: the embedding's prototype score, plus ``head_weight`` times the trained
    head's probability, plus ``bayes_weight`` times naive Bayes' probability (its
    log-likelihoods divided by ``bayes_temperature``, then softmax), plus ``lexicon_weight``
    times the lexicon score.

    The embedding reads meaning; the head and Bayes learned from the shipped training posts
    (compass/suggest/data) what posts of each value look like; the lexicon catches explicit
    calls to action ("tag a friend", "how to") that a small embedding model can blur. Weights
    were chosen by leave-one-writer-out cross-validation on the training posts only (each of
    the five training writers' posts scored by a model trained on the other four;
    docs/compass.md). Set
    ``head_weight`` and ``bayes_weight`` to 0 for the earlier embedding + lexicon mix.

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
    lexicon_weight: float = 0.06
    head_weight: float = 0.6
    bayes_weight: float = 2.0
    bayes_temperature: float = 8.0
    bayes: BayesSuggester | None = None  # built on first use when bayes_weight > 0
    head: Head | None = None  # the shipped head when head_weight > 0
    min_margin: float = 0.0
    min_words: int = 3
    min_wording: float = 1.0
    source: str = "combined"

    def suggest(self, text: str) -> Suggestion:
        """Suggest tags for ``text``."""
        return self.suggest_many([text])[0]

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """Suggestions for many texts (one embedding batch)."""
        scored, vectors = self.embedding.scores_and_vectors(texts)
        learned: list[dict[Quadrant, float]] = [dict.fromkeys(QUADRANTS_ORDER, 0.0)
                                                for _ in texts]
        if self.head_weight:
            if self.head is None:
                self.head = load_head()
            for extra, probabilities in zip(learned, self.head.probabilities(vectors),
                                            strict=True):
                for q in QUADRANTS_ORDER:
                    extra[q] += self.head_weight * probabilities[q]
        if self.bayes_weight:
            if self.bayes is None:
                self.bayes = shared_bayes()
            for extra, text in zip(learned, texts, strict=True):
                probabilities = self._bayes_probabilities(text)
                for q in QUADRANTS_ORDER:
                    extra[q] += self.bayes_weight * probabilities[q]
        return [self._merge(s, extra, t) for s, extra, t in zip(scored, learned, texts,
                                                                 strict=True)]

    def _bayes_probabilities(self, text: str) -> dict[Quadrant, float]:
        assert self.bayes is not None
        logs = self.bayes.scores(features(text))
        top = max(logs.values())
        exps = {q: math.exp((logs[q] - top) / self.bayes_temperature) for q in QUADRANTS_ORDER}
        total = sum(exps.values())
        return {q: e / total for q, e in exps.items()}

    def _merge(self, embedded: dict[Quadrant, float], learned: dict[Quadrant, float],
               text: str) -> Suggestion:
        matches = self.lexicon.matches(text)
        lexical = {q: sum(w for _, w in matches[q]) for q in QUADRANTS_ORDER}
        scores: dict[Quadrant, float] = {
            q: embedded.get(q, 0.0) + learned[q] + self.lexicon_weight * lexical[q]
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
        if self.head_weight or self.bayes_weight:
            why += " and most like the labelled " + best.label + " posts it learned from"
        words = [phrase for phrase, _ in matches[best]][:4]
        if words:
            why += "; wording: " + ", ".join(f"'{w}'" for w in words)
        return Suggestion((best,), scores, why, self.source)

