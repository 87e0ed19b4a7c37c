"""A small trained classifier on top of the sentence embeddings.

Multinomial logistic regression from an all-MiniLM-L6-v2 vector (384 numbers) to the four
quadrants, trained offline on the shipped posts (``bayes.TRAINING``: the training files and
the 80 tune posts; never the held-out half or the fresh sets) and shipped as
``compass/suggest/data/embedding_head.json`` (weights and bias, about 30 KB). The combined
suggester adds its probabilities to the prototype similarities. Training is plain numpy
(full-batch gradient descent on the L2-regularised cross-entropy; no scikit-learn).

Retrain after changing the training posts (a minute or two; deterministic)::

    .venv/bin/python -m compass.suggest.head

The file records a SHA-256 of the training posts; ``tests/compass/test_suggest.py`` fails
when the posts changed and the head was not retrained.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.bayes import TRAINING, training_posts

__all__ = ["HEAD_FILE", "Head", "load_head", "training_digest"]

HEAD_FILE = Path(__file__).with_name("data") / "embedding_head.json"
REGULARISATION_C = 4.0  # chosen by leave-one-writer-out cross-validation on the training posts


def training_digest() -> str:
    """SHA-256 over the training files' bytes, in ``TRAINING`` order."""
    digest = hashlib.sha256()
    for path in TRAINING:
        digest.update(path.read_bytes())
    return digest.hexdigest()


class Head:
    """Softmax regression: ``probabilities(vector)`` per quadrant (they sum to 1)."""

    def __init__(self, weights: Sequence[Sequence[float]], bias: Sequence[float],
                 digest: str) -> None:
        if len(bias) != len(QUADRANTS_ORDER) or any(len(w) != len(bias) for w in weights):
            raise ValueError("embedding head: expected one weight per quadrant in every row")
        self.weights = [list(map(float, row)) for row in weights]
        self.bias = list(map(float, bias))
        self.digest = digest

    def probabilities(self, vectors: Any) -> list[dict[Quadrant, float]]:
        """Per row of ``vectors`` (each as long as the weight rows), quadrant probabilities."""
        import numpy as np

        logits = np.asarray(vectors) @ np.asarray(self.weights) + np.asarray(self.bias)
        out = []
        for row in logits:
            top = max(row)
            exps = [math.exp(v - top) for v in row]
            total = sum(exps)
            out.append({q: e / total for q, e in zip(QUADRANTS_ORDER, exps, strict=True)})
        return out


@lru_cache(maxsize=1)
def load_head() -> Head:
    """The shipped head (read once per process)."""
    data = json.loads(HEAD_FILE.read_text(encoding="utf-8"))
    if data.get("classes") != [q.value for q in QUADRANTS_ORDER]:
        raise ValueError(f"{HEAD_FILE.name}: classes are not {[q.value for q in QUADRANTS_ORDER]}")
    return Head(data["weights"], data["bias"], data["training_sha256"])


def train(vectors: Any, labels: Sequence[Quadrant], *, steps: int = 4000,
          c: float = REGULARISATION_C) -> tuple[list[list[float]], list[float]]:
    """Fit the head: minimise ``c * sum(cross-entropy) + |weights|^2 / 2`` (the bias is not
    penalised) by Nesterov-accelerated gradient descent; the same objective as
    scikit-learn's ``LogisticRegression(C=c)``. Deterministic (starts from zeros)."""
    import numpy as np

    x = np.asarray(vectors, dtype=np.float64)
    n, d = x.shape
    y = np.zeros((n, len(QUADRANTS_ORDER)))
    y[np.arange(n), [QUADRANTS_ORDER.index(q) for q in labels]] = 1.0
    xb = np.hstack([x, np.ones((n, 1))])
    penalty = np.ones((d + 1, 1))
    penalty[-1] = 0.0  # no penalty on the bias
    # Step from the gradient's Lipschitz bound: c * |x|^2 / 2 for softmax, plus 1.
    step = 1.0 / (c * np.linalg.norm(xb, 2) ** 2 / 2 + 1.0)
    w = np.zeros((d + 1, len(QUADRANTS_ORDER)))
    previous = w.copy()
    for k in range(1, steps + 1):
        look = w + (k - 1) / (k + 2) * (w - previous)
        logits = xb @ look
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        gradient = c * xb.T @ (p - y) + penalty * look
        previous, w = w, look - step * gradient
    weights = [[round(float(v), 6) for v in row] for row in w[:-1]]
    return weights, [round(float(v), 6) for v in w[-1]]


def main() -> None:
    from compass.suggest.embedding import _load_model

    posts = training_posts()
    vectors = _load_model().encode([t for t, _ in posts])
    weights, bias = train(vectors, [q for _, q in posts])
    HEAD_FILE.write_text(json.dumps({
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "classes": [q.value for q in QUADRANTS_ORDER],
        "training_posts": len(posts),
        "training_sha256": training_digest(),
        "regularisation_C": REGULARISATION_C,
        "bias": bias,
        "weights": weights,
    }, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {HEAD_FILE} from {len(posts)} posts")


if __name__ == "__main__":
    main()
