"""Entry point of the `wav` command.

Subcommand modules register their parsers here and import heavy dependencies (torch, MuJoCo, rclpy)
only when run, so `wav --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under wav_core.cli (and wav_ros.cli for commands that need ROS).
SUBCOMMANDS: tuple[str, ...] = (
    "wav_core.cli.bench",
    "wav_core.cli.train",
    "wav_core.cli.eval",
    "wav_core.cli.calibrate",
    "wav_core.cli.diagnose",
    "wav_core.cli.headroom",
    "wav_core.cli.trace",
    "wav_core.cli.probe",
    "wav_core.cli.ablation",
    "wav_core.cli.card",
    "wav_ros.run_cli",
    "wav_core.cli.data",
    "wav_core.cli.export",
    "wav_core.cli.sim",
    "wav_core.cli.replay",
    "wav_core.cli.view",
    "wav_ros.piper_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wav", description="World-Value-Action policy for the Piper dual-arm.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, MemoryError) as exc:
        print(f"wav {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
