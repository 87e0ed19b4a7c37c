"""The numpy encoder gives the vectors sentence-transformers gives for the same model.

The reference vectors were written by sentence-transformers itself (bench/minilm_reference.py),
so a slip in the layers, the pooling, the tokenizer or the 256-token cut shows up here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from compass.suggest import available

pytestmark = pytest.mark.ml

REFERENCE = Path(__file__).parents[1] / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def encoder():
    status = available()
    if not status:
        if os.environ.get("REQUIRE_ML") == "1":
            pytest.fail(f"REQUIRE_ML=1 but the model is unusable: {status.reason}")
        pytest.skip(status.reason)
    from compass.suggest.minilm import MiniLM

    return MiniLM()


def test_vectors_match_sentence_transformers(encoder) -> None:
    import numpy as np

    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ours = encoder.encode(reference["sentences"])
    theirs = np.asarray(reference["vectors"], dtype=np.float32)
    assert ours.shape == theirs.shape == (len(reference["sentences"]), 384)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.9999, list(zip(reference["sentences"], cosines, strict=True))
    assert np.abs(ours - theirs).max() < 1e-3


def test_batch_order_and_padding_do_not_change_a_vector(encoder) -> None:
    import numpy as np

    texts = ["Short", "A much longer sentence about how sourdough starters are fed twice a day",
             "Tag a friend"]
    together = encoder.encode(texts)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_the_tail_past_256_tokens_is_cut(encoder) -> None:
    import numpy as np

    base = " ".join(["Why does bread go stale? Starch crystallises as it cools."] * 40)
    longer = base + " Completely different words about football and fireworks." * 20
    a, b = encoder.encode([base, longer])
    assert np.allclose(a, b, atol=1e-6)


def test_long_posts_go_in_small_batches(encoder, monkeypatch) -> None:
    # The attention scores of one pass grow with rows x width^2: long posts must not go 32 at
    # a time (32 x 256 tokens would hold about 100 MB of scores).
    import numpy as np

    from compass.suggest import minilm

    shapes: list[tuple[int, int]] = []
    real = minilm.MiniLM._forward

    def spy(self, ids, mask):  # type: ignore[no-untyped-def]
        shapes.append(ids.shape)
        return real(self, ids, mask)

    monkeypatch.setattr(minilm.MiniLM, "_forward", spy)
    texts = ["Short one"] * 40 + [" ".join(["Why does bread go stale?"] * n)
                                  for n in range(5, 60, 3)]
    vectors = encoder.encode(texts)
    assert sum(rows for rows, _ in shapes) == len(texts)
    assert all(rows <= minilm.BATCH for rows, _ in shapes)
    assert all(rows * width <= minilm.TOKENS or rows == 1 for rows, width in shapes)
    assert max(width for _, width in shapes) == encoder.max_tokens  # the longest were cut
    assert np.allclose(vectors[-1], encoder.encode([texts[-1]])[0], atol=1e-5)


def test_a_huge_text_is_cut_before_tokenizing(encoder) -> None:
    import numpy as np

    from compass.suggest import minilm

    limit = encoder.max_tokens * minilm.CHARS_PER_TOKEN
    huge = "Why does bread go stale? " * 40_000  # a megabyte
    a, b = encoder.encode([huge, huge[:limit]])
    assert np.allclose(a, b, atol=1e-6)
