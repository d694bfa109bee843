"""What one eager plan dispatches: ATen operators by kind and calls of each network.

On a GPU a small model's plan is bound by how many kernels it launches, not by its arithmetic, and
every matrix product and attention call stays a kernel of its own whatever a compiler fuses around
it. Counting them is exact and needs no GPU, so a change meant to cut launches is checked here on
any machine before a GPU measures what it is worth.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .planner import plan_inputs

PRODUCTS = ("addmm", "mm", "bmm", "baddbmm")
NETWORKS = ("world", "value", "action")


class OpCounter(TorchDispatchMode):
    """Counts every ATen operator dispatched inside the block, by name (`addmm`, `add`, ...)."""

    def __init__(self):
        super().__init__()
        self.ops: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def summarize_ops(ops: Counter) -> dict:
    """Total operators, matrix products, attention calls (any scaled_dot_product kernel)."""
    return {"aten_ops": int(sum(ops.values())),
            "products": int(sum(ops[k] for k in PRODUCTS)),
            "attention": int(sum(v for k, v in ops.items() if "scaled_dot_product" in k))}


def count_plan_ops(policy, seed: int = 0) -> dict:
    """One plan of `policy` (eager torch backend) on a random observation: the summary of its ATen
    operators, the ten most frequent, and how many times each network's forward ran."""
    images, state = plan_inputs(policy, seed)
    calls = Counter()
    hooks = [getattr(policy.model, name).register_forward_pre_hook(lambda *_, n=name: calls.update([n]))
             for name in NETWORKS]
    try:
        with torch.no_grad(), OpCounter() as counter:
            policy.plan(images, state, seed=seed)
    finally:
        for h in hooks:
            h.remove()
    return {**summarize_ops(counter.ops), "top": dict(counter.ops.most_common(10)),
            "calls": {name: calls[name] for name in NETWORKS}}
