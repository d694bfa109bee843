"""Batches whose order depends only on (seed, stage, step, rank): a resumed run sees exactly the
batches an uninterrupted one would have seen, without replaying the data loader.

A stage may draw from a subset of the samples (`WavDataset.stage_samples`: the action stage skips
failed episodes by default); the order over a subset is the same permutation mapped onto it, so
drawing from every sample gives exactly the batches of `size` = len(dataset)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch
from torch.utils.data import Sampler


class StepBatchSampler(Sampler[list[int]]):
    """`samples`: the dataset size (draw from every index) or the indices this stage may draw."""

    def __init__(self, samples: int | Sequence[int], batch_size: int, seed: int, stage: str, start_step: int,
                 total_steps: int, rank: int = 0, world_size: int = 1):
        self.indices = None if isinstance(samples, int) else torch.as_tensor(list(samples), dtype=torch.long)
        size = samples if self.indices is None else len(self.indices)
        if size < batch_size * world_size:
            raise ValueError(f"dataset: {size} samples{'' if self.indices is None else ' for this stage'} is fewer "
                             f"than one global batch ({batch_size} x {world_size} ranks); lower batch_size")
        self.size, self.batch, self.seed = size, batch_size, seed
        self.stage_key = zlib.crc32(stage.encode())
        self.start, self.total = start_step, total_steps
        self.rank, self.world = rank, world_size
        self.per_epoch = size // (batch_size * world_size)

    def _perm(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.stage_key + epoch)
        perm = torch.randperm(self.size, generator=g)
        return perm if self.indices is None else self.indices[perm]

    def __iter__(self):
        epoch, perm = -1, None
        for step in range(self.start, self.total):
            e, i = divmod(step, self.per_epoch)
            if e != epoch:
                epoch, perm = e, self._perm(e)
            off = (i * self.world + self.rank) * self.batch
            yield perm[off:off + self.batch].tolist()

    def __len__(self) -> int:
        return max(0, self.total - self.start)


def step_generator(seed: int, stage: str, step: int, rank: int, device) -> torch.Generator:
    """The noise and flow times of one step, reproducible on resume."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + zlib.crc32(stage.encode()) * 7919 + step * 131 + rank) % (2**63))
    return g
