"""`wav driver ...`: run the Piper driver on real CAN, with simulated arms, or benchmark it.

rclpy is imported inside the handlers so `wav --help` stays fast and works without ROS.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("driver", help="dual-arm Piper driver (ROS 2 node on piper_sdk)")
    sub = parser.add_subparsers(dest="driver_command", required=True)

    run = sub.add_parser("run", help="run the driver on the CAN interfaces of the config")
    _config_args(run)
    run.set_defaults(func=_run)

    sim = sub.add_parser("sim", help="run the driver against simulated arms on the virtual bus (no hardware)")
    _config_args(sim, required=False)
    sim.set_defaults(func=_sim)

    bench = sub.add_parser("bench", help="command-to-feedback latency and command rate on the virtual bus")
    from .piper_bench import add_arguments

    add_arguments(bench)
    bench.set_defaults(func=_bench)


def _config_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--config", required=required, help="YAML file with a driver section (e.g. config/piper_bridge.yaml)")
    parser.add_argument("--section", default="driver", help="top-level section holding the driver config")
    parser.add_argument("--executor", choices=("multi", "single"), default="multi",
                        help="multi: slow services (enable) never hold up feedback; single: lower latency")


def _load(args: argparse.Namespace):
    from wav_core.config import load
    from wav_core.config.driver import DriverConfig

    return load(DriverConfig, args.config, section=args.section) if args.config else DriverConfig()


def _spin(node, executor_kind: str, context=None) -> None:
    from rclpy.executors import ExternalShutdownException

    from .piper_bench import make_executor

    executor = make_executor(executor_kind, context)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()


def _run(args: argparse.Namespace) -> int:
    import rclpy

    from .piper_bridge import make_piper_bridge

    from .piper_arm import ArmEnableError

    config = _load(args)
    rclpy.init()
    node = None
    try:
        node = make_piper_bridge(config)
        _spin(node, args.executor)
    except ArmEnableError as exc:
        print(f"wav driver run: error: {exc}")
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _sim(args: argparse.Namespace) -> int:
    import rclpy

    from .piper_sim import virtual_config, virtual_rig

    config = virtual_config(_load(args), unique_ports=False)
    rclpy.init()
    try:
        with virtual_rig(config) as (bridge, _arms):
            _spin(bridge, args.executor)
    finally:
        rclpy.try_shutdown()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .piper_bench import run_from_args

    return run_from_args(args)
