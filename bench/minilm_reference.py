"""Write tests/data/minilm_reference.json: sentence vectors from sentence-transformers itself,
which tests/compass/test_minilm.py compares with the numpy encoder (compass/suggest/minilm.py).

Needs sentence-transformers and torch, which Poise no longer installs; run it in a scratch venv:

    .venv/bin/pip install sentence-transformers  # pulls torch
    HF_HUB_OFFLINE=1 .venv/bin/python bench/minilm_reference.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compass.suggest.minilm import model_dir  # noqa: E402

SENTENCES = [
    "How to brew the perfect pour-over at home",
    "Tag a friend who needs this 👇 #coffee",
    "Café crème, déjà vu: ÜBER-strong espresso for £2.50!",
    "We donated 1,000 meals to the shelter on Mill Road.",
    "",
    "Short",
    # Longer than the model's 256-token window: the tail is cut, as sentence-transformers does.
    " ".join(["Why does bread go stale? Starch crystallises as it cools."] * 40),
]


def main() -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir()), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    out = ROOT / "tests" / "data" / "minilm_reference.json"
    out.write_text(json.dumps({
        "made_with": "sentence-transformers SentenceTransformer(all-MiniLM-L6-v2).encode, "
                     "normalize_embeddings=True",
        "sentences": SENTENCES,
        "vectors": [[round(float(v), 7) for v in row] for row in vectors],
    }) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
