"""`wav data import | import-hdf5 | cache | info | bench`: build and inspect training datasets."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="import rosbag2 / ALOHA HDF5 recordings into a dataset, inspect one")
    sub = p.add_subparsers(dest="data_command", required=True)

    imp = sub.add_parser("import", help="rosbag2 recordings (one bag = one episode) -> dataset")
    imp.add_argument("--bags", nargs="+", required=True, help="bag directories or folders of bags")
    imp.add_argument("--config", required=True, help="rig YAML (its robot: section; optional data: section)")
    imp.add_argument("--out", required=True, help="dataset directory to create")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing dataset (only once the new one is complete)")
    imp.add_argument("--workers", type=int, default=1, help="bags imported at once, one process each")
    imp.add_argument("--no-progress", action="store_true")
    imp.set_defaults(func=_import)

    h5 = sub.add_parser("import-hdf5", help="ALOHA-layout HDF5 episodes -> dataset")
    h5.add_argument("--files", nargs="+", required=True)
    h5.add_argument("--out", required=True)
    h5.add_argument("--fps", type=float, default=50.0, help="recording rate (ALOHA: 50)")
    h5.add_argument("--instruction", default="")
    h5.add_argument("--config", default=None, help="YAML with an optional data: section")
    h5.add_argument("--jpeg-encoder", choices=["opencv", "standard"], default="opencv",
                    help="who wrote compressed frames: opencv (ALOHA; channels swapped) or a standard RGB encoder")
    h5.add_argument("--overwrite", action="store_true")
    h5.add_argument("--no-progress", action="store_true")
    h5.set_defaults(func=_import_hdf5)

    cache = sub.add_parser("cache", help="decode and resize every frame once for fast training at one resolution")
    cache.add_argument("dataset")
    cache.add_argument("--size", required=True, metavar="HxW", help="the model's image size, e.g. 64x64 (sim preset)")
    cache.add_argument("--workers", type=int, default=1, help="episodes processed at once, one process each")
    cache.add_argument("--no-progress", action="store_true")
    cache.set_defaults(func=_cache)

    info = sub.add_parser("info", help="summarise a dataset")
    info.add_argument("dataset")
    info.set_defaults(func=_info)

    bench = sub.add_parser("bench", help="import throughput on a synthetic three-camera 30 fps bag, or with "
                                          "--frames the per-frame conversion + resize (PIL vs OpenCV)")
    bench.add_argument("--frames", action="store_true", help="time per-frame conversion + resize instead of the import")
    bench.add_argument("--preset", default="sim", help="--frames: model preset whose image size frames are resized to")
    bench.add_argument("--seconds", type=float, default=5.0)
    bench.add_argument("--repeats", type=int, default=None, help="default 3 (import) or 200 (--frames)")
    bench.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    bench.add_argument("--config", default=None)
    bench.set_defaults(func=_bench)


def _import(args: argparse.Namespace) -> int:
    from ..config.loader import load
    from ..config.robot import RobotConfig
    from ..data.config import load_data_config
    from ..data.import_bags import import_bags

    robot = load(RobotConfig, args.config, section="robot")
    cfg = load_data_config(args.config)
    summary = import_bags(args.bags, robot, args.out, cfg, overwrite=args.overwrite, progress=not args.no_progress,
                          workers=args.workers, safety=_safety(args.config))
    print(summary.format())
    return 0


def _safety(path: str):
    """The config's policy.safety limits (None, the runtime defaults, when it has no policy section)."""
    from ..runtime.config import policy_section

    policy = policy_section(path)
    return None if policy is None else policy.safety


def _cache(args: argparse.Namespace) -> int:
    from ..data.frame_cache import build_frame_cache

    h, sep, w = args.size.lower().partition("x")
    if not sep or not h.isdigit() or not w.isdigit():
        raise ValueError(f"--size: got {args.size!r}, expected HEIGHTxWIDTH such as 64x64")
    path = build_frame_cache(args.dataset, (int(h), int(w)), args.workers, progress=not args.no_progress)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); training at {h}x{w} reads frames from it")
    return 0


def _import_hdf5(args: argparse.Namespace) -> int:
    from ..data.config import load_data_config
    from ..data.import_hdf5 import import_aloha

    cfg = load_data_config(args.config)
    summary = import_aloha(args.files, args.out, args.fps, args.instruction, cfg, jpeg_encoder=args.jpeg_encoder,
                           overwrite=args.overwrite, progress=not args.no_progress)
    print(summary.format())
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..data.dataset import load_dataset
    from ..data.info import describe

    print(describe(load_dataset(args.dataset)))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from ..data.bench import main

    argv = ["--seconds", str(args.seconds), "--storage", args.storage, "--preset", args.preset]
    if args.frames:
        argv.append("--frames")
    if args.repeats is not None:
        argv += ["--repeats", str(args.repeats)]
    if args.config:
        argv += ["--config", args.config]
    return main(argv)
