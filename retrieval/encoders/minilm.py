"""all-MiniLM-L6-v2 without sentence-transformers: the 6-layer BERT forward pass, mean pooling, L2 normalisation.

Why not sentence-transformers: importing it (with transformers, torchvision, scikit-learn) costs several
seconds before any work. This module reads the same files (``model.safetensors``, ``tokenizer.json``,
``sentence_bert_config.json``) and gives the same vectors (``tests/ui/test_product.py`` compares both).

On the CPU batches run in ONNX Runtime, on exports kept in the model cache: a query-sized batch on the 8-bit export
(a quarter of numpy's CPU; query vectors within cosine 0.99 of the exact ones, text to page unchanged: BENCHMARKS.md),
a larger one on the fp32 export (torch's vectors within 1e-6, and no slower: an ask encodes some thirty evidence
passages, and importing torch for them costs a first ask 8.6 s and 0.5 GB). The first process to need the exports
writes both (indexing, or a first search or ask on a cache that lacks them: about 5 s once, the one time such a process
imports torch). Every process on every machine thus encodes a query one way (a search that found no export and ran
exactly in numpy would rank a little otherwise than after any indexing run). Without ONNX Runtime, off the CPU, or where
the cache cannot take the exports, numpy runs small batches and torch larger ones. Vectors that are stored are always
the exact ones (the same as sentence-transformers).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pathatlas.retrieval.encoders import onnx_cache

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

NUMPY_TOKENS = 256
"""A batch of at most this many tokens (padded) runs on the 8-bit export (queries) or in numpy; a larger one on the fp32
export or in torch."""

EXPORT_PIECE = 8
"""Texts per run of the fp32 export. Cut to its longest text, a piece of texts sorted by length pads little: an ask's
evidence texts took 0.55-0.65 of torch's CPU in pieces of 8 against 1.0 in one batch of up to 64; batches of full-length
book passages (indexing) about the same CPU as torch (0.9-1.05) in 0.8-1.0 of its wall time, on 2 busy cores."""


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to float32 precision (Abramowitz & Stegun 7.1.26, error < 1.5e-7): numpy has none."""
    a = np.abs(x)
    t = 1 / (1 + np.float32(0.3275911) * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    return np.copysign(1 - poly * np.exp(-a * a), x)


def in_pieces(
    run: Callable[[np.ndarray, np.ndarray], np.ndarray], ids: np.ndarray, mask: np.ndarray, size: int
) -> np.ndarray:
    """``run(ids, mask)`` on ``size`` rows at a time, each piece cut to its longest text (padding is on the right)."""
    pieces = []
    for start in range(0, len(ids), size):
        rows = slice(start, start + size)
        length = int(mask[rows].sum(1).max())
        pieces.append(run(ids[rows, :length], mask[rows, :length]))
    return np.concatenate(pieces)


def quantised(exported: Path) -> Path:
    """The export with 8-bit matrix weights (per output channel; per tensor, or quantising the embeddings too,
    moved query vectors to cosine 0.93-0.96), written next to it once; needs onnx, not torch."""

    def write(staging: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        matrices = {"op_types_to_quantize": ["MatMul"], "per_channel": True, "weight_type": QuantType.QInt8}
        logging.disable(logging.WARNING)  # its advice to pre-process (for static quantisation) on the root logger
        # ``logging.warning()`` also calls ``basicConfig()`` when the root logger has no handler, even while disabled:
        # the process would then print every library's log lines (bm25s's DEBUG ones) on stderr. A handler that drops
        # everything stands in meanwhile.
        root, stand_in = logging.getLogger(), logging.NullHandler()
        root.addHandler(stand_in)
        try:
            quantize_dynamic(exported, staging, **matrices)
        finally:
            root.removeHandler(stand_in)
            logging.disable(logging.NOTSET)

    return onnx_cache.write_once(quantised_path(exported), write)


def quantised_path(exported: Path) -> Path:
    return exported.with_name(f"{exported.stem}-int8.onnx")


class MiniLM:
    """Sentence embeddings (384-d, mean pooled over real tokens, L2-normalised)."""

    def __init__(self, folder: Path, device: str = "cpu", onnx_dir: Path | None = None):
        """``onnx_dir``: where the ONNX export of the model is looked for and written (a model cache)."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads, self.eps = config["num_attention_heads"], config["layer_norm_eps"]
        self.layers = config["num_hidden_layers"]
        self.dim = config["hidden_size"]
        self.device = device
        weights = folder / "model.safetensors"
        self.arrays = load_file(weights)
        usable = device == "cpu" and onnx_dir is not None and onnx_cache.runtime_available()
        self.export = onnx_cache.export_path(onnx_dir, "all-minilm-l6-v2", weights) if usable else None
        self._session_lock = threading.RLock()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))

    @cached_property
    def weights(self) -> dict:
        """The same weights as torch tensors (sharing memory on CPU), made on the first batch."""
        import torch

        return {k: torch.from_numpy(v).to(self.device) for k, v in self.arrays.items()}

    # -- ONNX Runtime ---------------------------------------------------------------------------
    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, run by one thread once: each session holds its export's weights in memory."""
        if key not in self.__dict__:
            with self._session_lock:
                if key not in self.__dict__:
                    self.__dict__[key] = make()
        return self.__dict__[key]

    @property
    def exports(self) -> Path | None:
        """The fp32 export, its 8-bit twin beside it, both written first if the cache lacks them; None without ONNX
        Runtime, off the CPU, or where the cache cannot take them."""
        return None if self.export is None else self._once("_exports", self._written_exports)

    def _written_exports(self) -> Path | None:
        try:
            self.eight_bit_export()
            return self.write_export()
        except OSError as exc:  # a model cache this process may read but not write
            log.warning("text queries run exactly in numpy, long texts in torch: cannot write %s: %s", self.export, exc)
            return None

    def _session_on(self, key: str, path_of: Callable[[Path], Path], threads: int) -> Any:
        def open_session() -> Any:
            exported = self.exports
            return None if exported is None else onnx_cache.session(path_of(exported), threads)

        return self._once(key, open_session)

    @property
    def query_session(self) -> Any:
        """The session on the 8-bit export for query-sized batches; None (numpy runs them) without the exports."""
        return self._session_on("_query_session", quantised_path, threads=1)

    @property
    def exact_session(self) -> Any:
        """The session on the fp32 export for larger batches; None (torch runs them) without the exports."""
        return self._session_on("_exact_session", lambda exported: exported, threads=onnx_cache.threads_per_call())

    def eight_bit_export(self) -> Path:
        """The 8-bit export's file, written (with the export, if missing too) when the cache lacks it."""
        eight_bit = quantised_path(self.export)
        if not eight_bit.is_file():
            quantised(self.export if self.export.is_file() else self.write_export())
        return eight_bit

    def write_export(self) -> Path:
        """The ONNX export of the torch forward pass (weights as initializers), written if missing; torch is imported
        only to write it, once the cache is known to take the file."""
        model = self

        def export(staging: Path) -> None:
            import torch

            class Forward(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.names = list(model.weights)
                    for n, name in enumerate(self.names):
                        self.register_buffer(f"w{n}", model.weights[name])

                def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                    weights = {name: getattr(self, f"w{n}") for n, name in enumerate(self.names)}
                    return model.forward_torch(ids, mask, weights)

            example = (torch.ones(2, 8, dtype=torch.int64),) * 2
            axes = {"ids": {0: "n", 1: "length"}, "mask": {0: "n", 1: "length"}, "vectors": {0: "n"}}
            onnx_cache.export_module(Forward(), example, staging, ["ids", "mask"], ["vectors"], axes)

        return onnx_cache.write_once(self.export, export)

    def _embed_query(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        session = self.query_session
        if session is None:
            return self._embed_numpy(ids, mask)
        return session.run(None, {"ids": ids, "mask": mask})[0]

    def _embed_long(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        session = self.exact_session
        if session is None:
            return self._embed_torch(ids, mask)
        return in_pieces(lambda i, m: session.run(None, {"ids": i, "mask": m})[0], ids, mask, EXPORT_PIECE)

    # -- numpy: a few texts ----------------------------------------------------------------------
    @cached_property
    def _blas(self):
        """The process's BLAS pools, found once (``threadpool_limits`` rescans the libraries: ~2 ms a call)."""
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()

    def _embed_numpy(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # Matrices this small gain nothing from BLAS threads, and idle ones spin: on a busy machine a query takes 30x
        # longer (CPU and wall) with OpenBLAS's default threads than with one.
        with self._blas.limit(limits=1, user_api="blas"):
            return self._forward_numpy(ids, mask)

    def _forward_numpy(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.arrays

        def linear(x: np.ndarray, name: str) -> np.ndarray:
            return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

        def norm(x: np.ndarray, name: str) -> np.ndarray:
            centred = x - x.mean(-1, keepdims=True)
            scale = 1 / np.sqrt((centred * centred).mean(-1, keepdims=True) + np.float32(self.eps))
            return centred * scale * w[f"{name}.weight"] + w[f"{name}.bias"]

        batch, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        blocked = np.where(mask[:, None, None, :] > 0, 0, -np.inf).astype(np.float32)  # attend to real tokens only
        scale = np.float32(1 / np.sqrt(self.dim // self.heads))

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, self.heads, -1).transpose(0, 2, 1, 3)

        for n in range(self.layers):
            p = f"encoder.layer.{n}"
            q, k, v = (split(linear(x, f"{p}.attention.self.{part}")) for part in ("query", "key", "value"))
            logits = q @ k.transpose(0, 1, 3, 2) * scale + blocked
            attention = np.exp(logits - logits.max(-1, keepdims=True))
            attention /= attention.sum(-1, keepdims=True)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = norm(x + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            hidden = linear(x, f"{p}.intermediate.dense")
            hidden = hidden * (1 + erf(hidden * np.float32(1 / np.sqrt(2)))) / 2  # exact GELU, as torch's
            x = norm(x + linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        weights = mask[..., None].astype(np.float32)
        pooled = (x * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)

    # -- torch: larger batches without the exports ----------------------------------------------
    def _embed_torch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            ids, mask = (torch.from_numpy(a).to(self.device) for a in (ids, mask))
            return self.forward_torch(ids, mask).float().cpu().numpy()

    def forward_torch(self, ids: torch.Tensor, mask: torch.Tensor, weights: dict | None = None) -> torch.Tensor:
        """The forward pass in torch: (batch, length) token ids and attention mask -> (batch, 384) unit vectors."""
        import torch
        from torch.nn import functional as F  # noqa: N812 - the usual name

        w = self.weights if weights is None else weights

        def linear(x: torch.Tensor, name: str) -> torch.Tensor:
            return F.linear(x, w[f"{name}.weight"], w[f"{name}.bias"])

        def norm(x: torch.Tensor, name: str) -> torch.Tensor:
            return F.layer_norm(x, (self.dim,), w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

        length = ids.shape[1]
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        keep = mask[:, None, None, :].bool()  # attend to real tokens only
        blocked = (~keep).to(x.dtype) * torch.finfo(x.dtype).min
        scale = (self.dim // self.heads) ** -0.5

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        for n in range(self.layers):
            p = f"encoder.layer.{n}"
            q, k, v = (split(linear(x, f"{p}.attention.self.{part}")) for part in ("query", "key", "value"))
            if weights is None:  # eager (indexing): the fused kernel holds no (batch, heads, length, length) matrix
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            else:  # traced for the ONNX export, spelled out in ops the exporter maps one to one
                context = torch.softmax(q @ k.transpose(-1, -2) * scale + blocked, dim=-1) @ v
            context = context.transpose(1, 2).flatten(2)
            x = norm(x + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            hidden = F.gelu(linear(x, f"{p}.intermediate.dense"))
            x = norm(x + linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)

    def __call__(self, texts: Sequence[str], batch_size: int = 64, queries: bool = False) -> np.ndarray:
        """Unit vectors of ``texts``. ``queries``: small batches may run on the 8-bit export (close to the exact
        vectors, a quarter of the CPU); vectors that are stored (``queries=False``) are always the exact ones."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of similar length pad less (sentence-transformers sorts the same way). Queries go one by one: the
        # 8-bit export scales its activations over the whole batch, so a query's vector (and a service's hits for
        # it) moved with whatever other queries shared its batch.
        batch_size = 1 if queries else batch_size
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            small = self._embed_query if queries else self._embed_numpy
            out[chunk] = (small if ids.size <= NUMPY_TOKENS else self._embed_long)(ids, mask)
        return out
