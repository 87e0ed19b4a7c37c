"""Embedding suggester tests: need the model weights (make install adds them). Skipped
without them, unless REQUIRE_ML=1 (CI), where missing weights are a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compass.model import Quadrant
from compass.suggest import CombinedSuggester, EmbeddingSuggester, available, default_suggester
from compass.suggest.evaluate import evaluate, load_labelled, split_halves

pytestmark = pytest.mark.ml

EVAL = Path(__file__).parents[1] / "data" / "compass_eval.csv"


@pytest.fixture(autouse=True)
def _require_ml_extra() -> None:
    status = available()
    if status:
        return
    if os.environ.get("REQUIRE_ML") == "1":
        pytest.fail(f"REQUIRE_ML=1 but the model is unusable: {status.reason}")
    pytest.skip(f"model not installed: {status.reason}")


@pytest.fixture(scope="module")
def suggester() -> EmbeddingSuggester:
    return EmbeddingSuggester()


def test_clear_posts(suggester: EmbeddingSuggester) -> None:
    cases = {
        "Step-by-step: how to clean your espresso machine": Quadrant.LEARN,
        "Tag a friend and show us your photos in the comments": Quadrant.SHARE,
        "We donated a thousand meals to the homeless shelter": Quadrant.CARE,
        "Brand new flavour launching today: be the first to try it": Quadrant.TRY,
    }
    for text, quadrant in cases.items():
        suggestion = suggester.suggest(text)
        assert suggestion.top is quadrant, (text, suggestion)
        assert suggestion.source == "embedding"
        assert set(suggestion.scores) == set(Quadrant)


def test_batch_matches_single(suggester: EmbeddingSuggester) -> None:
    texts = ["How to fix a flat tyre", "Join our book club"]
    batch = suggester.suggest_many(texts)
    for text, suggestion in zip(texts, batch, strict=True):
        assert suggestion.tags == suggester.suggest(text).tags


FRUIT = ["peaches", "plums", "cherries", "apricots", "pears", "grapes", "melons", "lemons",
         "limes", "quinces"]


def test_many_close_examples_steer_suggestions(suggester: EmbeddingSuggester) -> None:
    text = "Fresh figs are in"
    examples = [(f"Fresh {fruit} are in", (Quadrant.CARE,)) for fruit in FRUIT]
    steered = suggester.with_examples(examples)
    assert steered.suggest(text).top is Quadrant.CARE
    assert "confirmed examples" in steered.suggest(text).why
    assert suggester.examples == []  # with_examples returns a copy


def test_a_few_confirmed_tags_do_not_swamp_unrelated_posts() -> None:
    # A new workspace's first confirmed tags (all Care) must not turn every suggestion Care:
    # the example vote counts each neighbour's similarity out of ten neighbours.
    for count in (1, 3, 10):
        examples = [(f"Fresh {fruit} are in", (Quadrant.CARE,)) for fruit in FRUIT[:count]]
        taught = default_suggester(examples)
        assert taught.suggest("How to store coffee beans: tips").top is Quadrant.LEARN
        assert taught.suggest("Tag a friend who needs this").top is Quadrant.SHARE
        assert taught.suggest("Why does bread go stale? Starch crystallises as it cools."
                              ).top is Quadrant.LEARN


def test_meets_top1_target_on_held_out_half(suggester: EmbeddingSuggester) -> None:
    _, held_out = split_halves(load_labelled(EVAL))
    assert evaluate(suggester, held_out).top1_accuracy >= 0.75


def test_default_is_combined_when_available() -> None:
    chosen = default_suggester()
    assert isinstance(chosen, CombinedSuggester)
    assert chosen.suggest("How to store coffee beans: tips").top is Quadrant.LEARN


@pytest.fixture(scope="module")
def combined() -> CombinedSuggester:
    return CombinedSuggester()


class TestCombinedThinEvidence:
    @pytest.mark.parametrize("text", ["first", "Only today", "Happy Monday!", "ok"])
    def test_short_text_without_wording_gives_no_suggestion(
        self, combined: CombinedSuggester, text: str
    ) -> None:
        suggestion = combined.suggest(text)
        assert suggestion.tags == (), suggestion
        assert "Too little text" in suggestion.why and "tag it by hand" in suggestion.why
        assert set(suggestion.scores) == set(Quadrant)  # the scores still explain it

    def test_short_text_with_a_typical_word_is_suggested(self, combined: CombinedSuggester) -> None:
        assert combined.suggest("Brand new").top is Quadrant.TRY

    def test_near_tie_gives_no_suggestion(self, combined: CombinedSuggester) -> None:
        text = "Our autumn menu: notes from the kitchen, with thanks to the team"
        assert not combined.lexicon.suggest(text).tags  # meaning alone decides this post
        base = combined.suggest(text)
        best, runner_up = sorted(base.scores.values(), reverse=True)[:2]
        # A margin just above this post's lead withholds it; just below lets it through.
        strict = CombinedSuggester(embedding=combined.embedding, min_margin=best - runner_up + 1e-6)
        loose = CombinedSuggester(embedding=combined.embedding, min_margin=best - runner_up - 1e-6)
        assert strict.suggest(text).tags == ()
        assert "Too close to call" in strict.suggest(text).why
        assert loose.suggest(text).tags

    def test_clear_posts_still_suggested(self, combined: CombinedSuggester) -> None:
        assert combined.suggest("How to store coffee beans: tips").top is Quadrant.LEARN
        assert combined.suggest("Tag a friend who needs this").top is Quadrant.SHARE


def test_rebuilt_examples_reuse_encoded_vectors(suggester: EmbeddingSuggester, monkeypatch) -> None:
    first = suggester.with_examples([("Fresh peaches are in", (Quadrant.CARE,))])
    first.suggest("warm up")
    encoded: list[str] = []
    real = EmbeddingSuggester._encode

    def spy(self, texts):  # type: ignore[no-untyped-def]
        encoded.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(EmbeddingSuggester, "_encode", spy)
    second = suggester.with_examples(
        [("Fresh peaches are in", (Quadrant.CARE,)),
         ("Fresh plums have arrived", (Quadrant.CARE,))],
        reuse=first,
    )
    second.suggest("Fresh figs are in")
    assert encoded == ["Fresh plums have arrived", "Fresh figs are in"]  # not the peaches again
    assert second.example_vectors().keys() == {"Fresh peaches are in", "Fresh plums have arrived"}


def test_combined_meets_the_floor_on_held_out_half(combined: CombinedSuggester) -> None:
    _, held_out = split_halves(load_labelled(EVAL))
    suggestions = combined.suggest_many([p.text for p in held_out])
    correct = sum(s.top is p.quadrant for s, p in zip(suggestions, held_out, strict=True))
    assert correct / len(held_out) >= 0.90


def test_head_and_bayes_add_learned_evidence(combined: CombinedSuggester) -> None:
    text = "Our cashiers now sit on proper chairs with back support for every shift."
    plain = CombinedSuggester(embedding=combined.embedding, head_weight=0, bayes_weight=0)
    learned = combined.suggest(text)
    assert learned.top is Quadrant.CARE
    assert "labelled Care for others posts" in learned.why
    assert "labelled" not in plain.suggest(text).why
    extra = {q: learned.scores[q] - plain.suggest(text).scores[q] for q in Quadrant}
    # head_weight x head + bayes_weight x Bayes; each one's probabilities sum to 1.
    assert sum(extra.values()) == pytest.approx(combined.head_weight + combined.bayes_weight)
    assert max(extra, key=extra.__getitem__) is Quadrant.CARE


def test_head_probabilities(suggester: EmbeddingSuggester) -> None:
    from compass.suggest.head import load_head

    _, vectors = suggester.scores_and_vectors(["How to fix a flat tyre", "Tag a friend"])
    rows = load_head().probabilities(vectors)
    assert [max(r, key=r.__getitem__) for r in rows] == [Quadrant.LEARN, Quadrant.SHARE]
    assert all(sum(r.values()) == pytest.approx(1.0) for r in rows)


def test_threads_asking_at_once_encode_each_example_once(suggester: EmbeddingSuggester,
                                                         monkeypatch) -> None:
    # A workspace's first suggestions can arrive together (and the warm-up may be at it too):
    # one thread encodes the examples, the others wait and reuse them.
    import threading

    taught = suggester.with_examples(
        [(f"Fresh {fruit} are in", (Quadrant.CARE,)) for fruit in FRUIT])
    encoded: list[str] = []
    real = EmbeddingSuggester._encode

    def spy(self, texts):  # type: ignore[no-untyped-def]
        encoded.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(EmbeddingSuggester, "_encode", spy)
    start = threading.Barrier(3)

    def ask() -> None:
        start.wait()
        taught.suggest("Fresh figs are in")

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    examples = [t for t in encoded if t != "Fresh figs are in"]
    assert sorted(examples) == sorted(f"Fresh {fruit} are in" for fruit in FRUIT)
