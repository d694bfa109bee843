"""Where nodes find their YAML: an absolute path, a path relative to the working directory, or a
file name in the package's config/ folder (source tree or installed share/wav_ros/config)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def share_dir() -> Path | None:
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("wav_ros"))
    except Exception:  # not installed through colcon/ament
        return None


def resolve(name: str, folder: str) -> Path:
    """Find `name` directly, in the source tree's `folder`, or in the installed share folder."""
    p = Path(name).expanduser()
    candidates = [p] if p.is_absolute() else [p, PACKAGE_ROOT / folder / name]
    share = share_dir()
    if share is not None and not p.is_absolute():
        candidates.append(share / folder / name)
    if folder == "config" and not name.endswith((".yaml", ".yml")):
        candidates += [c.with_name(c.name + ".yaml") for c in list(candidates)]
    for c in candidates:
        if c.exists():
            return c.resolve()
    raise FileNotFoundError(f"{name}: not found (looked in {', '.join(str(c) for c in candidates)})")
