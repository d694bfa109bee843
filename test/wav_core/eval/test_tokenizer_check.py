"""The tokenizer check tells a reconstruction that lost a small object from one that is evenly off."""

import numpy as np
import pytest
import torch

from wav_core.eval.tokenizer_check import reconstruction_errors, tokenizer_check
from wav_core.planning.policy import random_policy


def _table_with_block(n=4):
    img = torch.empty(n, 3, 32, 32)
    img[:, 0], img[:, 1], img[:, 2] = 0.55, 0.35, 0.2
    for i in range(n):  # the block moves from frame to frame, as it does from seed to seed
        img[i, :, 4 + 5 * i:7 + 5 * i, 20 - 3 * i:23 - 3 * i] = torch.tensor([0.9, 0.1, 0.1]).view(3, 1, 1)
    return img


def test_a_lost_block_shows_in_the_detail_error_not_an_even_tint():
    img = _table_with_block()
    lost = img.clone()
    lost[:, 0], lost[:, 1], lost[:, 2] = 0.55, 0.35, 0.2
    even = img + (lost - img).pow(2).mean().sqrt()
    a, b = reconstruction_errors(img, lost), reconstruction_errors(img, even)
    assert a["mse"] == pytest.approx(b["mse"], rel=1e-4)  # the overall error cannot tell them apart
    assert a["detail_ratio"] > 5.0
    assert b["detail_ratio"] == pytest.approx(1.0, rel=1e-4)
    assert reconstruction_errors(img, img)["detail_ratio"] is None


def test_bad_fraction_is_refused():
    img = _table_with_block()
    with pytest.raises(ValueError, match="fraction"):
        reconstruction_errors(img, img, fraction=0.0)


def test_check_runs_the_models_tokenizer_on_observation_frames():
    policy = random_policy("tiny")
    h, w = policy.cfg.image_size
    frames = [np.random.default_rng(0).integers(0, 255, (3, 2, h, w, 3), dtype=np.uint8)]
    result = tokenizer_check(policy.model, frames)
    assert result["frames"] == 6 and result["mse"] > 0 and result["detail_mse"] > 0
    with pytest.raises(ValueError, match="frames"):
        tokenizer_check(policy.model, [])
