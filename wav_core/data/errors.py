"""Error types of the data pipeline: all ValueErrors, so the CLI reports them as user errors."""

from __future__ import annotations


class DataError(ValueError):
    """Input data (a message, bag, HDF5 file or dataset) is not what the pipeline expects."""


class MessageError(DataError):
    """One ROS message cannot be converted; the text names the topic, the field and the expectation."""

    def __init__(self, topic: str, field: str, problem: str):
        self.topic = topic
        self.field = field
        super().__init__(f"{topic or '<message>'}: field '{field}': {problem}")


class BagError(DataError):
    """A rosbag2 recording is missing topics, corrupt or truncated."""


class DatasetError(DataError):
    """A dataset directory or episode file is missing parts or has inconsistent contents."""
