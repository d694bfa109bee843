"""Instruction encoders: a small trainable embedding (default) or a frozen local T5 encoder."""

from __future__ import annotations

import re
import zlib

import torch
from torch import nn

from .config import TextConfig

PAD = 0


def tokenize(text: str, vocab_size: int, max_len: int) -> tuple[list[int], list[bool]]:
    """Lower-cased words hashed (crc32, stable across runs and machines) into the vocabulary."""
    words = re.findall(r"[a-z0-9]+", text.lower())[:max_len]
    ids = [1 + zlib.crc32(w.encode()) % (vocab_size - 1) for w in words]
    mask = [True] * len(ids) + [False] * (max_len - len(ids))
    return ids + [PAD] * (max_len - len(ids)), mask


class EmbeddingTextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.pos = nn.Parameter(torch.zeros(cfg.max_len, cfg.dim))
        self.null = nn.Parameter(torch.zeros(1, cfg.dim))
        """Features of the empty prompt (caption dropout and instruction-free use)."""

    def forward(self, texts: list[str], device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> features [B, 1 + max_len, dim] and key mask [B, 1 + max_len] (True = attend)."""
        ids, masks = zip(*(tokenize(t, self.cfg.vocab_size, self.cfg.max_len) for t in texts))
        device = device or self.embed.weight.device
        ids_t = torch.tensor(ids, device=device)
        mask = torch.tensor(masks, device=device)
        feats = self.embed(ids_t) + self.pos
        null = self.null.expand(len(texts), 1, -1)
        always = torch.ones(len(texts), 1, dtype=torch.bool, device=device)
        return torch.cat([null, feats], 1), torch.cat([always, mask], 1)


class _Frozen:
    """Holds the T5 encoder outside the module tree: an nn.Module attribute would register it as a
    submodule, so checkpoints would carry its weights (and a fresh model could not load them) and
    `requires_grad_` on the text encoder would unfreeze it."""

    model = None
    tokenizer = None


class T5TextEncoder(nn.Module):
    """Frozen T5 encoder read from a local directory with `transformers` (no network access). Only
    the empty-prompt features (`null`) are trained and saved."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.null = nn.Parameter(torch.zeros(1, cfg.dim))
        self._t5 = _Frozen()

    def _load(self):
        if self._t5.model is None:
            if not self.cfg.t5_path:
                raise ValueError("text.t5_path: empty; the t5 backend needs a local directory with a T5 encoder")
            try:
                from transformers import AutoTokenizer, T5EncoderModel
            except ImportError as exc:
                raise ValueError("text.backend 't5' needs the `transformers` package installed") from exc
            tokenizer = AutoTokenizer.from_pretrained(self.cfg.t5_path, local_files_only=True)
            model = T5EncoderModel.from_pretrained(self.cfg.t5_path, local_files_only=True)
            if model.config.d_model != self.cfg.dim:
                raise ValueError(f"text.t5_path: {self.cfg.t5_path} has width {model.config.d_model}, "
                                 f"text.dim is {self.cfg.dim}")
            self._t5.model, self._t5.tokenizer = model.eval().requires_grad_(False), tokenizer
        return self._t5.model, self._t5.tokenizer

    def forward(self, texts: list[str], device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        model, tok = self._load()
        device = device or self.null.device
        enc = tok(list(texts), padding="max_length", truncation=True, max_length=self.cfg.max_len, return_tensors="pt")
        with torch.no_grad():
            feats = model.to(device)(input_ids=enc.input_ids.to(device), attention_mask=enc.attention_mask.to(device)).last_hidden_state
        null = self.null.expand(len(texts), 1, -1)
        mask = torch.cat([torch.ones(len(texts), 1, dtype=torch.bool, device=device), enc.attention_mask.bool().to(device)], 1)
        return torch.cat([null, feats.to(null.dtype)], 1), mask


def make_text_encoder(cfg: TextConfig) -> nn.Module:
    return T5TextEncoder(cfg) if cfg.backend == "t5" else EmbeddingTextEncoder(cfg)
