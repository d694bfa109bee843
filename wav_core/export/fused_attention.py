"""ONNX Runtime's fused MultiHeadAttention for the exported graphs.

Traced through torch.onnx, attention becomes a chain of Transpose/MatMul/Softmax nodes that ONNX
Runtime runs one by one; its com.microsoft MultiHeadAttention kernel does the head split, scaling,
softmax and weighting in one node and takes the cached keys/values in their [B, heads, L, dh]
layout as they are. Only ONNX Runtime knows the operator, so TensorRT gets the standard graphs.
"""

from __future__ import annotations

import torch

from ..model.layers import sdpa_attention

ATTENTION = ("fused", "standard")


class _MultiHeadAttention(torch.autograd.Function):
    """Eager: the reference attention. Traced: one com.microsoft MultiHeadAttention node."""

    @staticmethod
    def forward(ctx, q, k, v, heads: int):
        return sdpa_attention(q, k, v, heads)

    @staticmethod
    def symbolic(g, q, k, v, heads: int):
        out = g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads)
        out.setType(q.type())
        return out


def fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """sdpa_attention's contract. Masked attention (the short prompt) stays on the standard path."""
    if mask is not None:
        return sdpa_attention(q, k, v, heads, mask)
    b, n, d = q.shape
    bk = k.shape[0]
    # b / bk query rows share one context: with the [B, S, D] query layout that is a plain reshape.
    return _MultiHeadAttention.apply(q.reshape(bk, (b // bk) * n, d), k, v, heads).reshape(b, n, d)
