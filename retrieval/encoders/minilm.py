"""all-MiniLM-L6-v2 in plain torch: the 6-layer BERT forward pass, mean pooling and L2 normalisation.

Why not sentence-transformers: importing it (with transformers, torchvision, scikit-learn) costs several
seconds before any work, which made a one-off text search take most of ten seconds. This module needs only
torch, ``tokenizers`` and ``safetensors``, reads the same files (``model.safetensors``, ``tokenizer.json``,
``sentence_bert_config.json``) and gives the same vectors (``tests/test_product.py`` compares both).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 - the usual name


class MiniLM:
    """Sentence embeddings (384-d, mean pooled over real tokens, L2-normalised)."""

    def __init__(self, folder: Path, device: str = "cpu"):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads, self.eps = config["num_attention_heads"], config["layer_norm_eps"]
        self.layers = config["num_hidden_layers"]
        self.dim = config["hidden_size"]
        self.device = device
        self.weights = {k: v.to(device) for k, v in load_file(folder / "model.safetensors").items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w = self.weights
        return F.layer_norm(x, (self.dim,), w[f"{name}.weight"], w[f"{name}.bias"], self.eps)

    @torch.inference_mode()
    def _embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = self.weights
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        batch, length, _ = x.shape
        keep = mask[:, None, None, :].bool()  # attend to real tokens only

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, -1).transpose(1, 2)

        for n in range(self.layers):
            p = f"encoder.layer.{n}"
            q, k, v = (split(self._linear(x, f"{p}.attention.self.{part}")) for part in ("query", "key", "value"))
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            context = context.transpose(1, 2).reshape(batch, length, self.dim)
            x = self._norm(x + self._linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            hidden = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of similar length pad less (sentence-transformers sorts the same way).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = torch.tensor([e.ids for e in encoded], device=self.device)
            mask = torch.tensor([e.attention_mask for e in encoded], device=self.device)
            out[chunk] = self._embed(ids, mask).float().cpu().numpy()
        return out
