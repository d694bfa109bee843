"""A node set in one process on a multi-threaded executor, with the lifecycle transitions a launch
file would make (the policy node is configured and activated; output stays off until enabled),
optionally recording the run into an MCAP bag and with the policy in dry run."""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn

from .launcher import build_node, config_path, load_launch


class Session:
    def __init__(self, name: str, domain_id: int | None = None, record: str | None = None, dry_run: bool = False,
                 debug_images: bool = False, **policy_kwargs):
        """record: a new bag directory for the run's topics (see run_record.run_topics); dry_run and
        debug_images set the policy node's parameters of those names (on top of any
        `parameter_overrides` given)."""
        self.path = config_path(name)
        self.launch = load_launch(self.path)
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.nodes = []
        self.policy = None
        self.sim = None
        self.recorder = None
        flags = [n for n, on in (("dry_run", dry_run), ("debug_images", debug_images)) if on]
        if flags:
            from rclpy.parameter import Parameter

            overrides = list(policy_kwargs.get("parameter_overrides") or [])
            policy_kwargs = dict(policy_kwargs, parameter_overrides=overrides + [Parameter(n, value=True) for n in flags])
        try:
            if record:
                from .run_record import make_run_recorder

                self.recorder = make_run_recorder(self.path, record, context=self.context,
                                                  use_sim_time=self.launch.use_sim_time)
                self.nodes.append(self.recorder)
            for kind in self.launch.nodes:
                kw = dict(policy_kwargs) if kind == "policy" else {}
                node = build_node(kind, self.path, self.launch.use_sim_time, context=self.context, **kw)
                self.nodes.append(node)
                if kind == "policy":
                    self.policy = node
                if kind == "sim":
                    self.sim = node
        except BaseException:
            self.close()
            raise
        self.executor = MultiThreadedExecutor(num_threads=6, context=self.context)
        for n in self.nodes:
            self.executor.add_node(n)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        if self.policy is not None:
            if self.policy.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ValueError(f"policy node failed to configure: {self.policy.config_error}")
            self.policy.trigger_activate()

    def enable(self, timeout: float = 120.0) -> None:
        if self.policy is None:
            raise ValueError("this node set has no policy node to enable")
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            ok, msg = self.policy.enable(True)
            if ok:
                self.policy.get_logger().info(msg)
                return
            time.sleep(0.1)
        raise TimeoutError(f"could not enable the policy within {timeout} s: {msg}")

    def spin(self, duration: float = 0.0) -> None:
        t = time.monotonic()
        try:
            while duration <= 0 or time.monotonic() - t < duration:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass

    def close(self) -> None:
        if self.policy is not None:
            self.policy._halt()
        ex = getattr(self, "executor", None)
        if ex is not None:
            ex.shutdown()
        if self.recorder is not None:
            self.recorder.close()
        for n in self.nodes:
            n.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
