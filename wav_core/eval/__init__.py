"""Closed-loop evaluation in the simulator."""
