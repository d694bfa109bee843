"""`wav sim view`: the three camera views side by side in one PNG."""

import numpy as np
from PIL import Image

from wav_core.cli.main import main


def test_view_writes_the_three_cameras_side_by_side(tmp_path):
    out = tmp_path / "view.png"
    assert main(["sim", "view", "--task", "bowl", "--seed", "0", "--out", str(out)]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (240, 424 + 320 + 320 + 2 * 4, 3)
    head, left = img[:, :424], img[:, 428:748]
    assert head.std() > 5 and left.std() > 5
    assert not np.array_equal(head[:, :320], left)


def test_view_rejects_a_non_png_path(tmp_path):
    assert main(["sim", "view", "--task", "bowl", "--out", str(tmp_path / "view.jpg")]) == 2
