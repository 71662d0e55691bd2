"""Fault tolerance: atomic, verified epoch checkpoints (zoo.checkpoint.ResumableCheckpoint), resuming after a crash
or a SIGKILL mid-epoch with the weights of an uninterrupted run, and falling back past a corrupt checkpoint.

Tolerance of "the same weights": exact equality (np.testing.assert_array_equal) for the RBM, which runs
deterministic CPU ops with --deterministic (and in-process without it: its ops are deterministic on CPU already).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from tiny_runs import KIND_COMMANDS, kind_command, kzoo

from zoo.callbacks import training_callbacks
from zoo.checkpoint import CheckpointWarning, ResumableCheckpoint, state_variables
from zoo.data.order import epoch_dataset

ENVIRONMENT = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}


# --------------------------------------------------------------------------------------- the checkpoint itself
def small_model(units=3):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units), keras.layers.Dropout(0.3),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


class StateAtEpochEnd(keras.callbacks.Callback):
    """The full checkpointed state after each epoch (placed after the checkpoint callback)."""

    def __init__(self):
        super().__init__()
        self.states = {}

    def on_epoch_end(self, epoch, logs=None):
        self.states[epoch + 1] = [np.array(v.numpy()) for v in state_variables(self.model)]


def assert_state(model, expected):
    actual = [np.array(v.numpy()) for v in state_variables(model)]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    model, recorder = small_model(), StateAtEpochEnd()
    history = model.fit(*data(), batch_size=8, epochs=3, verbose=0,
                        callbacks=[ResumableCheckpoint(folder / "backup"), recorder])
    assert len(history.history["loss"]) == 3
    return folder / "backup", recorder.states


@pytest.fixture
def trained(trained_once, tmp_path):
    """Three epochs of a small model checkpointed into tmp_path/backup (a copy for each test), and the state after
    each epoch."""
    backup, states = trained_once
    shutil.copytree(backup, tmp_path / "backup")
    return tmp_path / "backup", states


def test_keeps_the_last_two_verified_checkpoints(trained):
    backup, states = trained
    assert sorted(path.name for path in backup.iterdir()) == ["epoch_0002", "epoch_0003"]
    manifest = json.loads((backup / "epoch_0003" / "manifest.json").read_text())
    assert manifest["epoch"] == 3 and len(manifest["sha256"]["variables.npz"]) == 64
    assert [entry["epoch"] for entry in manifest["history"]] == [0, 1, 2]
    names = [name for name, _, _ in manifest["variables"]]
    assert any("iteration" in name for name in names)  # the optimizer's step counter
    assert any("seed_generator" in name for name in names)  # the dropout's random state

    model = small_model()
    checkpoint = ResumableCheckpoint(backup)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good checkpoint restores without a warning
        assert checkpoint.restore(model) == 3
    assert_state(model, states[3])
    assert int(model.optimizer.iterations.numpy()) == 3 * 4
    assert checkpoint.history_dict()["loss"] == [entry["loss"] for entry in manifest["history"]]


def test_rerun_with_more_epochs_trains_only_the_new_ones(trained):
    backup, _ = trained
    model = small_model()
    history = model.fit(*data(), batch_size=8, epochs=5, verbose=0, callbacks=[ResumableCheckpoint(backup)])
    assert len(history.history["loss"]) == 2  # epochs 4 and 5
    assert sorted(path.name for path in backup.iterdir()) == ["epoch_0004", "epoch_0005"]
    assert int(model.optimizer.iterations.numpy()) == 5 * 4
    assert model._initial_epoch is None  # a later fit of the same model starts where it is told to


@pytest.mark.parametrize("damage", ["garble data", "truncate data", "truncate manifest", "delete data"])
def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(trained, damage):
    backup, states = trained
    newest = backup / "epoch_0003"
    if damage == "garble data":
        raw = bytearray((newest / "variables.npz").read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        (newest / "variables.npz").write_bytes(bytes(raw))
    elif damage == "truncate data":
        os.truncate(newest / "variables.npz", 100)
    elif damage == "truncate manifest":
        os.truncate(newest / "manifest.json", 40)
    else:
        (newest / "variables.npz").unlink()
    model = small_model()
    with pytest.warns(CheckpointWarning, match=r"epoch_0003 is corrupt .*falling back to the previous one"):
        assert ResumableCheckpoint(backup).restore(model) == 2
    assert_state(model, states[2])
    assert sorted(path.name for path in backup.iterdir()) == ["corrupt_epoch_0003", "epoch_0002"]


def test_every_checkpoint_corrupt_starts_afresh_with_a_warning(trained):
    backup, _ = trained
    for folder in backup.iterdir():
        (folder / "manifest.json").write_text("{")
    model = small_model()
    before = [np.array(v.numpy()) for v in state_variables(model)]
    with pytest.warns(CheckpointWarning) as caught:
        assert ResumableCheckpoint(backup).restore(model) == 0
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 3 and "epoch_0003 is corrupt" in messages[0] and "epoch_0002 is corrupt" in messages[1]
    assert "no usable checkpoint" in messages[2] and "starts from scratch" in messages[2]
    assert_state(model, before)


def test_a_kill_during_a_save_leaves_the_previous_checkpoints(trained):
    """What a SIGKILL in the middle of writing epoch 4 leaves behind: a hidden temporary folder with a partial
    file. It is never read, and the next run removes it."""
    backup, states = trained
    partial = backup / ".tmp-epoch_0004-abc123"
    partial.mkdir()
    (partial / "variables.npz").write_bytes(b"PK\x03\x04partial")
    model = small_model()
    checkpoint = ResumableCheckpoint(backup)
    assert checkpoint.restore(model) == 3
    assert_state(model, states[3])
    model.fit(*data(), batch_size=8, epochs=4, verbose=0, callbacks=[checkpoint])
    assert sorted(path.name for path in backup.iterdir()) == ["epoch_0003", "epoch_0004"]


def test_a_checkpoint_of_another_model_is_refused(trained):
    backup, _ = trained
    with pytest.raises(ValueError, match="different model"):
        ResumableCheckpoint(backup).restore(small_model(units=5))


def test_save_replaces_an_existing_epoch_atomically(tmp_path):
    model = small_model()
    checkpoint = ResumableCheckpoint(tmp_path)
    checkpoint.save(1, model)
    model.layers[0].kernel.assign(np.ones((4, 3), np.float32))
    checkpoint.save(1, model)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch_0001"]
    fresh = small_model()
    assert ResumableCheckpoint(tmp_path).restore(fresh) == 1
    np.testing.assert_array_equal(fresh.layers[0].kernel.numpy(), np.ones((4, 3)))
    with pytest.raises(ValueError, match="keep"):
        ResumableCheckpoint(tmp_path, keep=1)


def test_epoch_dataset_order_depends_only_on_seed_and_epoch():
    x = np.arange(10, dtype=np.float32)
    full, steps = epoch_dataset(x, 4, seed=3, epochs=3)
    assert steps == 3
    batches = [b.numpy().tolist() for b in full]
    assert [len(b) for b in batches] == [4, 4, 2] * 3
    epochs = [sorted(sum(batches[i:i + 3], [])) for i in (0, 3, 6)]
    assert all(epoch == list(range(10)) for epoch in epochs)  # every example once per epoch
    assert batches[0:3] != batches[3:6]  # reshuffled
    resumed, _ = epoch_dataset(x, 4, seed=3, epochs=3, initial_epoch=2)
    assert [b.numpy().tolist() for b in resumed] == batches[6:]  # a resumed run sees what it would have seen
    other, _ = epoch_dataset(x, 4, seed=4, epochs=1)
    assert [b.numpy().tolist() for b in other] != batches[:3]


# --------------------------------------------------------------------------------------- whole training runs
RBM_ARGS = dict(dataset="digits", hidden=12, epochs=3, batch_size=20, limit=300, sample_steps=4, seed=0, verbose=0)


def final_state(out):
    newest = max((out / "backup").glob("epoch_*"))
    with np.load(newest / "variables.npz") as archive:
        return newest.name, [archive[name] for name in sorted(archive.files)]


def test_a_crash_mid_epoch_resumes_with_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch):
    """train_rbm crashes in the middle of epoch 2 (a callback raises), then reruns: it resumes from the epoch-1
    checkpoint, replays epoch 2 on the same batches with the same random draws, and ends with exactly the state of
    a run that was never interrupted (weights, velocities, PCD chains, seed generator)."""
    from autoencoders import rbm
    from autoencoders.training import train_rbm

    monkeypatch.setattr(rbm, "DEFAULT_STEPS_PER_EXECUTION", 5)  # 3 executions of 5 steps per epoch of 15
    reference = train_rbm(tmp_path / "reference", persistent=True, **RBM_ARGS)
    assert reference["resumed_from_epoch"] == 0

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch >= 7:  # the end of the second execution (batch 9)
                raise RuntimeError("simulated crash in epoch 2")

    callbacks = training_callbacks
    monkeypatch.setattr("zoo.training.training_callbacks", lambda *a, **k: [*callbacks(*a, **k), Crash()])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_rbm(tmp_path / "crashed", persistent=True, **RBM_ARGS)
    assert sorted(p.name for p in (tmp_path / "crashed" / "backup").iterdir()) == ["epoch_0001"]
    assert not (tmp_path / "crashed" / "metrics.json").exists()
    monkeypatch.setattr("zoo.training.training_callbacks", callbacks)

    resumed = train_rbm(tmp_path / "crashed", persistent=True, **RBM_ARGS)
    assert resumed["resumed_from_epoch"] == 1 and len(resumed["seconds_per_epoch"]) == 2
    assert resumed["history"] == reference["history"]  # all 3 epochs, the first restored from the checkpoint
    name, state = final_state(tmp_path / "crashed")
    reference_name, reference_state = final_state(tmp_path / "reference")
    assert name == reference_name == "epoch_0003"
    for a, b in zip(state, reference_state):
        np.testing.assert_array_equal(a, b)
    assert resumed["test_pseudo_log_likelihood"] == reference["test_pseudo_log_likelihood"]


def _wait_for(path: Path, process, timeout):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            return False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


RBM_COMMAND = ["train", "rbm", "--dataset", "digits", "--hidden", "16", "--epochs", "4", "--batch-size", "4",
               "--persistent", "--deterministic", "--seed", "0", "--sample-steps", "4", "--verbose", "0"]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_the_same_command_gives_the_uninterrupted_weights(tmp_path):
    """`kzoo train rbm --deterministic` killed with SIGKILL once epoch 1's checkpoint exists (epoch 2 running),
    rerun with the same command: 4 epochs in all and bit-identical final state. Then the newest checkpoint is
    garbled and the command rerun: the CLI warns, falls back to epoch 3, retrains epoch 4, same state again."""
    reference_out, killed_out = tmp_path / "reference", tmp_path / "killed"
    reference = subprocess.Popen(kzoo(*RBM_COMMAND, "--out", str(reference_out)), env=ENVIRONMENT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(kzoo(*RBM_COMMAND, "--out", str(killed_out)), env=ENVIRONMENT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(killed_out / "backup" / "epoch_0001", victim, timeout=300), victim.communicate()[1][-3000:]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
        assert victim.returncode == -signal.SIGKILL
        assert not (killed_out / "metrics.json").exists()  # it did not finish
        assert reference.wait(timeout=300) == 0, reference.communicate()[1][-3000:]
    finally:
        for process in (reference, victim):
            if process.poll() is None:
                process.kill()
                process.wait()
    epochs_at_kill = len(list((killed_out / "backup").glob("epoch_*")))
    rerun = subprocess.run(kzoo(*RBM_COMMAND, "--out", str(killed_out)), env=ENVIRONMENT, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    metrics = json.loads((killed_out / "metrics.json").read_text())
    assert 1 <= metrics["resumed_from_epoch"] <= 3 and epochs_at_kill >= 1
    assert len(metrics["history"]["reconstruction_error"]) == 4
    assert metrics["history"] == json.loads((reference_out / "metrics.json").read_text())["history"]
    name, state = final_state(killed_out)
    reference_name, reference_state = final_state(reference_out)
    assert name == reference_name == "epoch_0004"
    for a, b in zip(state, reference_state):
        np.testing.assert_array_equal(a, b)

    newest = killed_out / "backup" / "epoch_0004" / "variables.npz"
    raw = bytearray(newest.read_bytes())
    raw[-100] ^= 0xFF
    newest.write_bytes(bytes(raw))
    again = subprocess.run(kzoo(*RBM_COMMAND, "--out", str(killed_out)), env=ENVIRONMENT, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "epoch_0004 is corrupt" in again.stderr and "falling back to the previous one" in again.stderr
    assert json.loads((killed_out / "metrics.json").read_text())["resumed_from_epoch"] == 3
    _, state = final_state(killed_out)
    for a, b in zip(state, reference_state):
        np.testing.assert_array_equal(a, b)


# Every `kzoo train` kind, tiny, 3 epochs, --deterministic: killed by SIGKILL at a chosen moment, then rerun.

# Runs `kzoo ARGS` in this process after arranging a SIGKILL of the process itself at MOMENT: "epoch" after the
# first batch of epoch 2 (epoch 1's checkpoint is written), "save" while epoch 2's checkpoint is being written (its
# variables are on disk in the temporary folder, its manifest is not).
KILLER = """
import os, signal, sys
from pathlib import Path

import keras

import zoo.checkpoint
import zoo.training

moment, argv = sys.argv[1], sys.argv[2:]
if moment == "epoch":
    callbacks = zoo.training.training_callbacks

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    zoo.training.training_callbacks = lambda *a, **k: [*callbacks(*a, **k), Kill()]
else:
    sha256_file = zoo.checkpoint.sha256_file

    def hash_or_die(path, *args, **kwargs):
        if Path(path).parent.name.startswith(".tmp-epoch_0002-"):
            os.kill(os.getpid(), signal.SIGKILL)
        return sha256_file(path, *args, **kwargs)

    zoo.checkpoint.sha256_file = hash_or_die

from zoo.cli import main

sys.exit(main(argv))
"""


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["epoch", "save"])
@pytest.mark.parametrize("kind", sorted(KIND_COMMANDS))
def test_every_kind_killed_mid_epoch_or_mid_save_resumes_to_the_uninterrupted_weights(kind, moment, tmp_path):
    """SIGKILL during epoch 2, or during the write of epoch 2's checkpoint; every checkpoint left verifies, and the
    same command rerun continues after epoch 1 and ends with the final state (weights, optimizer, RNG) of an
    uninterrupted run, bit for bit (--deterministic)."""
    command = kind_command(kind, tmp_path)
    reference, out = tmp_path / "reference", tmp_path / "killed"
    done = subprocess.run(kzoo(*command, "--out", str(reference)), env=ENVIRONMENT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    killed = subprocess.run([sys.executable, "-c", KILLER, moment, *command, "--out", str(out)], env=ENVIRONMENT,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (out / "metrics.json").exists()
    left = sorted(path.name for path in (out / "backup").iterdir())
    assert [name for name in left if not name.startswith(".")] == ["epoch_0001"], left
    assert any(name.startswith(".tmp-epoch_0002-") for name in left) == (moment == "save"), left
    ResumableCheckpoint(out / "backup").read(out / "backup" / "epoch_0001")  # verifies (CorruptCheckpoint if not)

    rerun = subprocess.run(kzoo(*command, "--out", str(out)), env=ENVIRONMENT, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming after epoch 1 of 3" in rerun.stdout
    assert not [path for path in (out / "backup").iterdir() if path.name.startswith(".")]  # the partial save went
    name, state = final_state(out)
    reference_name, reference_state = final_state(reference)
    assert name == reference_name == "epoch_0003" and len(state) == len(reference_state)
    for a, b in zip(state, reference_state):
        np.testing.assert_array_equal(a, b)
    from zoo.presets import load

    weights = [load(run).get_weights() for run in (out, reference)]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_resumes_a_backup_written_by_keras_backup_and_restore(tmp_path):
    """Runs started before ResumableCheckpoint existed kept keras.callbacks.BackupAndRestore's files."""
    model = small_model()
    model.fit(*data(), batch_size=8, epochs=2, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    expected = [np.array(v.numpy()) for v in model.weights]
    fresh = small_model()
    assert ResumableCheckpoint(tmp_path).restore(fresh) == 2
    for a, e in zip(fresh.weights, expected):
        np.testing.assert_array_equal(a.numpy(), e)
