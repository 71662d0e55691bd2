"""kzoo's cache root (zoo.cache): where it is, and the lock that lets processes running at the same time share it."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from zoo import cache

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from zoo.cache import exclusive

    entry, marker = Path(sys.argv[1]), Path(sys.argv[2])
    with exclusive(entry):
        marker.write_text("holding")
        time.sleep(1.5)
        marker.write_text("released")
    """
)


@pytest.mark.skipif(cache.fcntl is None, reason="no fcntl: exclusive() runs unlocked on this system")
def test_exclusive_makes_another_process_wait_until_the_holder_is_done(tmp_path):
    entry, marker = tmp_path / "cache" / "entry.keras", tmp_path / "marker"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(entry), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.01)
        with cache.exclusive(entry):
            assert marker.read_text() == "released"  # entered only after the holder's block ended
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()
    assert (tmp_path / "cache" / "entry.keras.lock").is_file()


def test_exclusive_is_released_by_an_exception_and_reentrant_across_calls(tmp_path):
    entry = tmp_path / "entry"
    with pytest.raises(RuntimeError, match="boom"), cache.exclusive(entry):
        raise RuntimeError("boom")
    with cache.exclusive(entry):  # would block forever if the first lock were still held by this process's handle
        pass


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "mine"))
    assert cache.cache_dir("a", "b") == tmp_path / "mine" / "a" / "b"
    assert (tmp_path / "mine" / "a" / "b").is_dir()
    monkeypatch.delenv(cache.ENV_VAR)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert cache.cache_dir("c") == tmp_path / "keras" / "kzoo" / "c"
    assert os.access(tmp_path / "keras" / "kzoo" / "c", os.W_OK)
