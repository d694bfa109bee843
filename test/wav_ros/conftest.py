"""ROS tests run on real DDS, each in its own context and domain so they cannot hear each other."""

import itertools
import os

import pytest

_domains = itertools.count(60 + os.getpid() % 50)


@pytest.fixture()
def ros_context():
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=next(_domains))
    yield ctx
    rclpy.try_shutdown(context=ctx)
