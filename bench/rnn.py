"""Time kzoo's fused LSTM/GRU/Elman layers against Keras's and print the table.

The same as ``kzoo bench rnn`` (same flags: ``python bench/rnn.py --help``), runnable from a checkout.
"""

import sys

from zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "rnn", *sys.argv[1:]]))
