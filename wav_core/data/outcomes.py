"""What happened in a recorded episode, from the `summary.json` beside its bag.

`wav sim record` writes, per episode, the success and sub-goal flags the simulator measured at the
end and the quality mode the expert ran in (clean, noisy, or a scripted mistake). Other layouts
that only give a success flag (`expert_success`) are read through `bags.episode_success`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bags import episode_success, read_summary
from .errors import DataError


@dataclass
class EpisodeOutcome:
    success: bool
    subgoals: dict[str, bool] = field(default_factory=dict)
    """Sub-goals reached during the episode (empty when the source does not say)."""
    quality: dict[str, Any] | None = None
    """{"mode": ..., parameters...} of a simulated recording; None when the source does not say."""


def episode_outcome(bag: Path) -> EpisodeOutcome | None:
    """The outcome of `bag`'s episode, or None when there is no summary.json beside it."""
    bag = Path(bag)
    found = read_summary(bag)
    if found is None:
        return None
    summary, data = found
    entries = data.get("per_episode") if isinstance(data, dict) else None
    if isinstance(entries, list):
        for i, ep in enumerate(entries):
            if isinstance(ep, dict) and "success" in ep and Path(str(ep.get("bag"))).name in (bag.name, bag.stem):
                return _parse(ep, f"{summary}: per_episode[{i}]")
    success = episode_success(bag)
    return None if success is None else EpisodeOutcome(success)


def _parse(ep: dict[str, Any], where: str) -> EpisodeOutcome:
    success, subgoals, quality = ep["success"], ep.get("subgoals", {}), ep.get("quality")
    if not isinstance(success, bool):
        raise DataError(f"{where}.success: got {success!r}, expected true or false")
    if not isinstance(subgoals, dict) or not all(isinstance(v, bool) for v in subgoals.values()):
        raise DataError(f"{where}.subgoals: got {subgoals!r}, expected a mapping of sub-goal name to true/false")
    if quality is not None and not (isinstance(quality, dict) and isinstance(quality.get("mode"), str)):
        raise DataError(f"{where}.quality: got {quality!r}, expected a mapping with a 'mode' string")
    return EpisodeOutcome(success, dict(subgoals), None if quality is None else dict(quality))
