"""Tests of the helpers every training command shares (zoo.seeding, zoo.distribution, zoo.io, zoo.images) and of
the deprecated zoo.runtime names that re-export them."""

import json

import numpy as np
import pytest
from PIL import Image

from zoo.distribution import get_strategy
from zoo.images import image_grid, save_image_grid
from zoo.io import atomic_path, prepare_out_dir, write_json
from zoo.seeding import set_seed


def test_image_grid_layout_and_png(tmp_path):
    images = np.stack([np.full((4, 5), value) for value in (0.0, 0.5, 1.0)])
    grid = image_grid(images, columns=2, padding=1)
    assert grid.shape == (2 * 5 + 1, 2 * 6 + 1, 1) and grid.dtype == np.uint8
    assert grid[1, 1, 0] == 0 and grid[1, 7, 0] == 128 and grid[6, 1, 0] == 255
    path = save_image_grid(images, tmp_path / "grid.png", columns=2)
    assert Image.open(path).size == (2 * 7 + 2, 2 * 6 + 2)
    rgb = image_grid(np.zeros((2, 3, 3, 3)) - 1.0, value_range=(-1.0, 1.0))
    assert rgb.shape[-1] == 3 and rgb[2, 2, 0] == 0


@pytest.mark.parametrize("shape", [(0, 4, 4), (2, 4), (2, 4, 4, 2)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="expected images"):
        image_grid(np.zeros(shape))


def test_atomic_path_keeps_earlier_content_on_failure(tmp_path):
    target = write_json({"epoch": 1}, tmp_path / "metrics.json")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("{partial")
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_prepare_out_dir_errors(tmp_path):
    assert prepare_out_dir(tmp_path / "a" / "b").is_dir()
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        prepare_out_dir(file)


def test_strategies_and_seed(monkeypatch):
    import tensorflow as tf

    assert get_strategy("none").num_replicas_in_sync == 1
    assert get_strategy("mirrored", devices=1).num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="unknown distribution strategy"):
        get_strategy("ring")
    # with GPUs: more than there are; without: the CPU cannot be split into 99 now that TensorFlow has started
    expected = ("asked for 99 devices" if tf.config.list_physical_devices("GPU")
                else r"devices=99: TensorFlow already started in this process with 1 CPU device")
    with pytest.raises(ValueError, match=expected):
        get_strategy("mirrored", devices=99)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multiworker")
    set_seed(5)
    first = tf.random.uniform((3,)).numpy()
    set_seed(5)
    np.testing.assert_array_equal(first, tf.random.uniform((3,)).numpy())
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)


def test_run_eta_prints_the_runs_progress_and_remaining_time():
    import keras
    import numpy as np

    from zoo.progress import RunETA, format_seconds

    assert (format_seconds(65.4), format_seconds(3725), format_seconds(-3)) == ("1:05", "1:02:05", "0:00")
    lines = []
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 2), np.float32)
    model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0,
              callbacks=[RunETA(3, 2, stage="GAN", print_fn=lines.append)])
    assert len(lines) == 3 and lines[0].startswith("GAN: epoch 1/3, ") and "steps/s, ETA " in lines[0]
    assert lines[-1].startswith("GAN: epoch 3/3") and lines[-1].endswith("ETA 0:00")


def test_runtime_names_still_work_with_a_deprecation_warning():
    import zoo.io
    from zoo import runtime

    with pytest.warns(DeprecationWarning, match="zoo.runtime.write_json moved to zoo.io.write_json"):
        assert runtime.write_json is zoo.io.write_json
    for name in dir(runtime):
        with pytest.warns(DeprecationWarning):
            assert callable(getattr(runtime, name)) or isinstance(getattr(runtime, name), tuple)
    with pytest.raises(AttributeError):
        runtime.no_such_name


def test_written_files_and_checkpoints_follow_the_umask(tmp_path):
    """mkstemp/mkdtemp create private files and folders (0600/0700); kzoo's writes end with the modes that the
    umask gives any new file or folder."""
    import os

    import keras

    from zoo.checkpoint import ResumableCheckpoint

    previous = os.umask(0o022)
    try:
        write_json({"a": 1}, tmp_path / "m.json")
        save_image_grid(np.zeros((2, 4, 4, 3)), tmp_path / "g.png")
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        checkpoint = ResumableCheckpoint(tmp_path / "backup")
        checkpoint.save(1, model)
        os.umask(0o077)
        write_json({"a": 2}, tmp_path / "private.json")
    finally:
        os.umask(previous)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "g.png").stat().st_mode & 0o777 == 0o644
    epoch = tmp_path / "backup" / "epoch_0001"
    assert epoch.stat().st_mode & 0o777 == 0o755
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in epoch.iterdir())
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
