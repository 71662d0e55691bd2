"""Time kzoo's fused LSTM/GRU/Elman layers against Keras's and print the table (same as `kzoo bench rnn`)."""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from zoo.benchmark import format_table, run_rnn_benchmark, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--cells", default="lstm,gru,elman", help="comma-separated: lstm, gru, elman")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the rows and environment as JSON")
    args = parser.parse_args()
    rows = run_rnn_benchmark(batch=args.batch, steps=args.steps, features=args.features, units=args.units,
                             cells=args.cells.split(","), repeats=args.repeats, warmup=args.warmup, seed=args.seed)
    print(format_table(rows))
    if args.json:
        write_json(rows, args.json)


if __name__ == "__main__":
    main()
