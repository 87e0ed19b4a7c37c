from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from compass.model import Quadrant
from compass.suggest import (
    LexiconBayesSuggester,
    LexiconSuggester,
    Suggester,
    Suggestion,
    available,
    default_suggester,
)
from compass.suggest import embedding as embedding_module
from compass.suggest.evaluate import evaluate, fresh_rows, load_labelled, split_halves
from compass.suggest.lexicon import normalise, stem

EVAL = Path(__file__).parents[1] / "data" / "compass_eval.csv"


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
    def test_falls_back_to_lexicon_without_ml(self, monkeypatch) -> None:
        monkeypatch.setattr(
            "compass.suggest.available",
            lambda: embedding_module.Availability(False, "not installed"),
        )
        chosen = default_suggester()
        assert isinstance(chosen, LexiconBayesSuggester)
        # The word list answers when it is sure; Bayes only fills its silences.
        assert chosen.suggest("Our new limited edition drops Friday: be the first to try it"
                              ).source == "lexicon"
        assert chosen.suggest("Croissants at nine.").tags

    def test_availability_explains_itself(self) -> None:
        status = available()
        assert isinstance(status.reason, str) and status.reason
        assert bool(status) is status.ok

    def test_unavailable_reason_names_the_extra(self, monkeypatch) -> None:
        monkeypatch.setattr(embedding_module.importlib.util, "find_spec", lambda name: None)
        status = available()
        assert not status
        assert "sentence-transformers is not installed" in status.reason


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
