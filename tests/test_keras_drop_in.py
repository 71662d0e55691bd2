"""kzoo's LSTM, GRU and ElmanRNN as drop-in replacements for keras.layers.LSTM, GRU and SimpleRNN, proven by
Keras's own tests (lstm_test.py, gru_test.py, simple_rnn_test.py of the installed Keras version, from its source
distribution on PyPI) run with the classes swapped, and by Keras's constructor arguments and integer inputs."""

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo

KERAS_TESTS = ("lstm_test.py", "gru_test.py", "simple_rnn_test.py")
SWAP = Path(__file__).parent / "keras_drop_in" / "swap_layers.py"  # copied in as the run's conftest.py


def keras_test_files(cache: Path) -> list[Path]:
    """The three test files of the installed Keras version, from its sdist (downloaded once into ``cache``)."""
    version = keras.__version__
    folder = cache / f"keras-{version}-rnn-tests"
    if not all((folder / name).is_file() for name in KERAS_TESTS):
        download = cache / "sdist"
        result = subprocess.run([sys.executable, "-m", "pip", "download", f"keras=={version}", "--no-binary",
                                 ":all:", "--no-deps", "--quiet", "-d", str(download)],
                                capture_output=True, text=True, timeout=300)
        archives = list(download.glob(f"keras-{version}.tar.gz"))
        if result.returncode != 0 or not archives:
            pytest.skip(f"could not download Keras {version}'s source distribution from PyPI (needed for its "
                        f"own tests): {result.stderr.strip()[-300:]}")
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as archive:
            for name in KERAS_TESTS:
                member = archive.getmember(f"keras-{version}/keras/src/layers/rnn/{name}")
                (folder / name).write_bytes(archive.extractfile(member).read())
    return [folder / name for name in KERAS_TESTS]


def test_keras_own_rnn_tests_pass_with_kzoos_layers(tmp_path):
    from zoo.cache import cache_dir

    files = keras_test_files(cache_dir("keras-tests"))
    run = tmp_path / "keras_rnn_tests"  # outside any folder named keras, so `import keras` is the installed one
    run.mkdir()
    for path in files:
        shutil.copy(path, run / path.name)
    shutil.copy(SWAP, run / "conftest.py")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(run)],
                            capture_output=True, text=True, timeout=900, cwd=run)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-4000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 20 and "failed" not in summary, summary


@pytest.mark.parametrize("kzoo_class, keras_class", [(zoo.LSTM, keras.layers.LSTM), (zoo.GRU, keras.layers.GRU),
                                                     (zoo.ElmanRNN, keras.layers.SimpleRNN)])
def test_integer_inputs_as_keras_takes_them(kzoo_class, keras_class):
    sequence = np.arange(2 * 5 * 4).reshape(2, 5, 4).astype("int64") % 7
    reference = keras_class(3, seed=1)
    expected = reference(sequence)
    layer = kzoo_class(3, use_fused=True)
    layer.build(sequence.shape)
    layer.set_weights(reference.get_weights())
    np.testing.assert_allclose(layer(sequence), expected, atol=1e-5)


def test_lstm_activation_is_kerass_and_falls_back_from_the_fused_loop():
    sequence = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    reference = keras.layers.LSTM(4, activation="relu", seed=2)
    expected = reference(sequence)
    layer = zoo.LSTM(4, activation="relu")
    layer.build(sequence.shape)
    layer.set_weights(reference.get_weights())
    np.testing.assert_allclose(layer(sequence), expected, atol=1e-5)
    assert layer.fast_path_blocker() == "the fused LSTM loop needs tanh(c_t) in the output (output_activation)"
    config = layer.get_config()
    assert config["modulation_activation"] == config["output_activation"] == "relu"
    np.testing.assert_allclose(zoo.LSTM.from_config(config).cell.output_activation(np.array([-1.0, 2.0])), [0, 2])
    with pytest.raises(ValueError, match="pass either it or them"):
        zoo.LSTM(4, activation="relu", modulation_activation="sigmoid")


def test_kerass_implementation_and_use_cudnn_arguments():
    for cls in (zoo.LSTM, zoo.GRU, zoo.ElmanRNN):
        assert cls(2, implementation=1).get_config()["use_cudnn"] == "auto"
        assert cls(2, use_cudnn=False).get_config()["use_cudnn"] is False
        with pytest.raises(ValueError, match="no cuDNN kernel"):
            cls(2, use_cudnn=True)
        with pytest.raises(ValueError, match="`use_cudnn` must be"):
            cls(2, use_cudnn="yes")
    assert zoo.LSTMCell(2, implementation=2).units == 2
