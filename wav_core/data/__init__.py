"""Training data: the one observation pipeline, bag/HDF5 import, dense rewards, dataset, samples.

Import-light: torch is only needed by `wav_core.data.torch_dataset`.
"""

from .assembler import Observation, ObservationAssembler
from .config import DataConfig, load_data_config
from .dataset import Dataset, EpisodeInfo, load_dataset
from .errors import BagError, DataError, DatasetError, MessageError
from .messages import camera_to_rgb, compressed_to_rgb, image_to_rgb, joint_positions, stamp_ns
from .resize import model_frame, resize_image
from .rewards import REWARD_CHANNELS, REWARD_COMPONENTS, REWARD_WEIGHTS, RewardConfig, dense_rewards
from .values import ValueTargetConfig, value_targets

__all__ = [
    "BagError", "DataConfig", "DataError", "Dataset", "DatasetError", "EpisodeInfo", "MessageError",
    "Observation", "ObservationAssembler", "REWARD_CHANNELS", "REWARD_COMPONENTS", "REWARD_WEIGHTS",
    "RewardConfig", "ValueTargetConfig", "camera_to_rgb", "compressed_to_rgb", "dense_rewards",
    "image_to_rgb", "joint_positions", "load_data_config", "load_dataset", "model_frame", "resize_image", "stamp_ns",
    "value_targets",
]
