from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from compass.model import Quadrant
from compass.suggest import (
    BayesSuggester,
    LexiconSuggester,
    Suggester,
    Suggestion,
    available,
    default_suggester,
)
from compass.suggest import embedding as embedding_module
from compass.suggest.bayes import TRAINING, training_posts
from compass.suggest.evaluate import (
    evaluate,
    fresh_rows,
    load_labelled,
    split_halves,
)
from compass.suggest.head import load_head, training_digest
from compass.suggest.lexicon import normalise, stem

EVAL = Path(__file__).parents[1] / "data" / "compass_eval.csv"
FRESH2 = Path(__file__).parents[1] / "data" / "compass_fresh2.csv"
FRESH3 = Path(__file__).parents[1] / "data" / "compass_fresh3.csv"
FRESH4 = Path(__file__).parents[1] / "data" / "compass_fresh4.csv"
FRESH5 = Path(__file__).parents[1] / "data" / "compass_fresh5.csv"
*TRAIN_FILES, TUNE = TRAINING  # one file per training writer, then the tune posts


class TestStem:
    @pytest.mark.parametrize(
        ("words", "same"),
        [
            (["share", "shared", "sharing", "shares"], True),
            (["try", "tried", "tries"], True),
            (["donate", "donated", "donating"], True),
            (["plan", "planned"], True),
            (["learn", "learning", "learned"], True),
        ],
    )
    def test_variants_agree(self, words, same) -> None:
        assert (len({stem(w) for w in words}) == 1) is same

    def test_normalise(self) -> None:
        assert normalise("#TagAFriend @shop Pre-Order NOW!") == [
            "tagafriend",
            "shop",
            "pre",
            "order",
            "now",
        ]
        assert normalise("What’s new?") == normalise("What's new?")


class TestLexiconSuggester:
    suggester = LexiconSuggester()

    @pytest.mark.parametrize(
        ("text", "quadrant"),
        [
            ("How to pick the right running shoe: a quick guide", Quadrant.LEARN),
            ("Tips for a calmer morning routine", Quadrant.LEARN),
            ("Tag a friend who needs this and share your pick in the comments", Quadrant.SHARE),
            ("Launching today: be the first to try our new oat latte", Quadrant.TRY),
            ("We donated 500 meals to the food bank. Thank you for your support", Quadrant.CARE),
        ],
    )
    def test_clear_posts(self, text: str, quadrant: Quadrant) -> None:
        suggestion = self.suggester.suggest(text)
        assert suggestion.top is quadrant
        assert suggestion.source == "lexicon"
        assert "'" in suggestion.why  # names the words

    def test_why_names_words(self) -> None:
        why = self.suggester.suggest("How to descale your kettle: tips from our team").why
        assert "Learn new things" in why and "'how to'" in why and "'tips'" in why

    def test_thin_evidence_gives_no_suggestion(self) -> None:
        suggestion = self.suggester.suggest("Photo from this morning.")
        assert suggestion.tags == ()
        assert suggestion.top is None
        assert "Not enough evidence" in suggestion.why

    def test_two_tags_when_close(self) -> None:
        suggestion = self.suggester.suggest("How to brew it: tag a friend who needs this guide")
        assert set(suggestion.tags) == {Quadrant.LEARN, Quadrant.SHARE}

    def test_custom_lexicon(self) -> None:
        custom = LexiconSuggester({Quadrant.CARE: {"kindness": 2.0}}, min_score=1.0)
        assert custom.suggest("Acts of kindness").tags == (Quadrant.CARE,)

    def test_scores_cover_all_quadrants_and_serialise(self) -> None:
        suggestion = self.suggester.suggest("How to tag a friend")
        assert set(suggestion.scores) == set(Quadrant)
        json.dumps(suggestion.to_dict())

    def test_is_a_suggester(self) -> None:
        assert isinstance(self.suggester, Suggester)


class TestDefaultSuggester:
    def test_falls_back_to_bayes_without_ml(self, monkeypatch) -> None:
        monkeypatch.setattr(
            "compass.suggest.available",
            lambda: embedding_module.Availability(False, "not installed"),
        )
        chosen = default_suggester()
        assert isinstance(chosen, BayesSuggester)
        assert chosen is default_suggester()  # trained once per process
        suggestion = chosen.suggest("Our new limited edition drops Friday: be the first to try it")
        assert suggestion.top is Quadrant.TRY and suggestion.source == "bayes"
        assert "'limited edition'" in suggestion.why  # names the cue words it found
        assert chosen.suggest("Croissants at nine.").tags  # always answers

    def test_availability_explains_itself(self) -> None:
        status = available()
        assert isinstance(status.reason, str) and status.reason
        assert bool(status) is status.ok

    def test_unavailable_reason_names_the_extra(self, monkeypatch) -> None:
        monkeypatch.setattr(embedding_module.importlib.util, "find_spec", lambda name: None)
        status = available()
        assert not status
        assert "numpy is not installed" in status.reason and "make install" in status.reason


class TestEvaluationSet:
    def test_shape(self) -> None:
        with open(EVAL, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0]) == ["text", "quadrant"]
        assert len(rows) >= 120
        counts = Counter(row["quadrant"] for row in rows)
        assert all(counts[q.value] >= 30 for q in Quadrant)
        assert len({row["text"] for row in rows}) == len(rows)

    def test_halves_are_balanced(self) -> None:
        posts = load_labelled(EVAL)
        tune, held_out = split_halves(posts)
        for part in (tune, held_out, fresh_rows(posts)):
            counts = Counter(p.quadrant for p in part)
            assert len(set(counts.values())) == 1 and set(counts) == set(Quadrant)

    def test_lexicon_meets_its_target_on_held_out_half(self) -> None:
        _, held_out = split_halves(load_labelled(EVAL))
        result = evaluate(LexiconSuggester(), held_out)
        assert result.coverage >= 0.70
        assert result.accuracy_when_suggesting >= 0.60

    def test_evaluate_counts(self) -> None:
        class Always:
            def suggest(self, text: str) -> Suggestion:
                return Suggestion((Quadrant.TRY,), {}, "", "test")

        posts = load_labelled(EVAL)
        result = evaluate(Always(), posts)
        assert result.coverage == 1
        assert result.top1_accuracy == pytest.approx(0.25)


class TestTrainingData:
    @pytest.mark.parametrize("path", TRAIN_FILES, ids=lambda p: p.name)
    def test_each_writers_file_loads_and_is_balanced(self, path: Path) -> None:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0]) == ["text", "quadrant"]
        assert len(rows) >= 390
        counts = Counter(row["quadrant"] for row in rows)
        assert set(counts) == {q.value for q in Quadrant}
        assert min(counts.values()) >= 95
        assert all(row["text"].strip() == row["text"] and row["text"] for row in rows)

    def test_training_posts_are_the_files_in_order_without_repeats(self) -> None:
        posts = training_posts()
        assert len(posts) == sum(len(load_labelled(p)) for p in TRAIN_FILES) + 80
        assert len({text for text, _ in posts}) == len(posts)

    def test_tune_posts_are_the_even_rows_only(self) -> None:
        tune, _ = split_halves(load_labelled(EVAL))
        shipped = load_labelled(TUNE)
        assert [(p.text, p.quadrant) for p in shipped] == [(p.text, p.quadrant) for p in tune]

    def test_no_evaluation_post_is_trained_on(self) -> None:
        _, held_out = split_halves(load_labelled(EVAL))
        kept_apart = {p.text for p in held_out} | {p.text for p in load_labelled(FRESH2)}
        for later in (FRESH3, FRESH4, FRESH5):
            kept_apart |= {p.text for p in load_labelled(later)}
        trained = {" ".join(text.lower().split()) for text, _ in training_posts()}
        assert not trained & {" ".join(t.lower().split()) for t in kept_apart}

    def test_no_training_post_is_close_to_an_evaluation_post(self) -> None:
        # Word overlap (Jaccard of word sets) 0.4 or more counts as close; such training posts
        # were removed before training (docs/compass.md). The tune half is training itself.
        import numpy as np

        def words(text: str) -> set[str]:
            return set(re.findall(r"[a-z0-9']+", text.lower()))

        _, held_out = split_halves(load_labelled(EVAL))
        apart = [words(p.text) for p in held_out]
        for later in (FRESH2, FRESH3, FRESH4, FRESH5):
            apart += [words(p.text) for p in load_labelled(later)]
        tune = {p.text for p in load_labelled(TUNE)}
        texts = [text for text, _ in training_posts() if text not in tune]
        trained = [words(text) for text in texts]
        index = {w: i for i, w in enumerate(sorted(set().union(*apart)))}

        def matrix(sets: list[set[str]]) -> np.ndarray:
            m = np.zeros((len(sets), len(index)), dtype=np.float32)
            for row, ws in enumerate(sets):
                m[row, [index[w] for w in ws if w in index]] = 1.0
            return m

        shared = matrix(trained) @ matrix(apart).T  # words in common, per pair
        sizes_a = np.array([len(ws) for ws in trained], dtype=np.float32)[:, None]
        sizes_b = np.array([len(ws) for ws in apart], dtype=np.float32)[None, :]
        jaccard = shared / np.maximum(sizes_a + sizes_b - shared, 1.0)
        close = [texts[i] for i in np.nonzero((jaccard >= 0.4).any(axis=1))[0]]
        assert close == []

    def test_shipped_embedding_head_matches_the_training_posts(self) -> None:
        # Retrain with `python -m compass.suggest.head` after editing the posts.
        head = load_head()
        assert head.digest == training_digest()
        assert len(head.weights) == 384 and len(head.bias) == 4


class TestBayesSuggester:
    bayes = BayesSuggester()

    def test_meets_the_floor_on_held_out_half(self) -> None:
        _, held_out = split_halves(load_labelled(EVAL))
        result = evaluate(self.bayes, held_out)
        assert result.coverage == 1
        assert result.top1_accuracy >= 0.90

    def test_meets_the_floor_on_fresh_odd_rows(self) -> None:
        posts = load_labelled(EVAL)
        fresh_odd = [p for p in fresh_rows(posts) if p.row % 2]
        assert evaluate(self.bayes, fresh_odd).top1_accuracy >= 0.85

    def test_leave_one_writer_out_on_its_own_training_posts(self) -> None:
        # Each training writer's posts scored by a model taught by the other writers (plus
        # the lexicon and tune posts): how it does on a writer it has never read. Measured
        # 89.7% (docs/compass.md); posts without cue words make it harder than it looks.
        tune = [(p.text, p.quadrant) for p in load_labelled(TUNE)]
        writers = {path: load_labelled(path) for path in TRAIN_FILES}
        correct = total = 0
        for path, scored in writers.items():
            taught = [(p.text, p.quadrant) for other, posts in writers.items() if other != path
                      for p in posts]
            correct += evaluate(BayesSuggester(taught + tune), scored).correct_top1
            total += len(scored)
        assert correct / total >= 0.85

    @pytest.mark.parametrize(
        ("text", "quadrant"),
        [
            ("We've put benches along the long corridor so patients can rest on the way to "
             "X-ray.", Quadrant.CARE),
            ("Our cashiers now sit on proper chairs with back support for every shift.",
             Quadrant.CARE),
            ("The crema on an espresso is mostly carbon dioxide trapped in the coffee oils.",
             Quadrant.LEARN),
        ],
    )
    def test_care_and_learn_without_cue_words(self, text: str, quadrant: Quadrant) -> None:
        assert LexiconSuggester().suggest(text).top is not quadrant  # no cue word for it
        assert self.bayes.suggest(text).top is quadrant

    def test_deterministic_and_order_free(self) -> None:
        posts = training_posts()
        shuffled = BayesSuggester(list(reversed(posts)))
        _, held_out = split_halves(load_labelled(EVAL))
        for post in held_out:
            first, again = self.bayes.suggest(post.text), shuffled.suggest(post.text)
            assert first.tags == again.tags
            assert first.scores == pytest.approx(again.scores)

    def test_learns_from_its_examples(self) -> None:
        text = "Pebbles by the harbour"
        taught = BayesSuggester([("Pebbles by the harbour wall", Quadrant.CARE)] * 20)
        assert taught.suggest(text).top is Quadrant.CARE

    def test_scores_cover_all_quadrants_and_serialise(self) -> None:
        suggestion = self.bayes.suggest("Tips for a calmer morning")
        assert set(suggestion.scores) == set(Quadrant)
        json.dumps(suggestion.to_dict())

