"""Copied as conftest.py beside Keras's own RNN tests by tests/test_keras_drop_in.py: every ``layers.LSTM``,
``layers.GRU`` and ``layers.SimpleRNN`` those tests build is kzoo's class instead."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras.src import layers  # noqa: E402

import zoo  # noqa: E402

layers.LSTM, layers.GRU, layers.SimpleRNN = zoo.LSTM, zoo.GRU, zoo.ElmanRNN
