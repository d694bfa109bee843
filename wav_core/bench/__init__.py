"""Benchmarks: commands that print medians and ratios measured in the same run."""
