"""The planned chunk as RViz / Foxglove markers: one line per arm through its tool-point path,
coloured by the value the plan expects at each step (see wav_core.runtime.plan_view)."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from wav_core.runtime.plan_view import BASE_FRAME, PlanView, value_colours


def plan_markers(view: PlanView, actions: np.ndarray, values_total: np.ndarray, stamp,
                 lifetime_s: float = 2.0) -> MarkerArray:
    paths = view.paths(actions)
    colours = value_colours(values_total)
    out = MarkerArray()
    for k, arm in enumerate(view.arms):
        m = Marker()
        m.header.frame_id, m.header.stamp = BASE_FRAME, stamp
        m.ns, m.id, m.type, m.action = f"wav_plan/{arm}", k, Marker.LINE_STRIP, Marker.ADD
        m.pose.orientation.w = 1.0
        m.scale.x = 0.006
        m.lifetime.sec, m.lifetime.nanosec = int(lifetime_s), int((lifetime_s % 1) * 1e9)
        m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in paths[k]]
        m.colors = [ColorRGBA(r=float(c[0]), g=float(c[1]), b=float(c[2]), a=float(c[3])) for c in colours]
        out.markers.append(m)
    return out
