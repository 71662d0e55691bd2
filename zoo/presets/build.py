"""Build a preset from a ``kzoo train`` run: load the run's model, write it as a preset, load that preset back,
measure its metrics with the project's evaluation code, and write the preset again with the metrics, the training
data and command in its metadata. ``scripts/build_presets.sh`` runs this after each training::

    python -m zoo.presets.build NAME --run DIR [--out DIR] --description TEXT --data PATH --command TEXT

Each kind is measured by the evaluator its family registered (``PresetKind.evaluate``, :mod:`zoo.families`):
t2i: attribute accuracy on held-out captions (``gan.metrics.evaluate_preset``); charlm: nats/char on the
validation split (``zoo.text.language_model.evaluate_preset``); rbm: test log-likelihood with log Z from AIS, and
dae/autoencoder: test binary cross-entropy (``autoencoders.evaluation``); seq2seq: exact match on the held-out
pairs (``zoo.text.seq2seq.evaluate_preset``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from zoo.presets.format import sha256_file
from zoo.presets.registry import BUNDLED_DIR
from zoo.tensorflow_start import quiet_tensorflow_start

MAX_PRESET_BYTES = 8_000_000


def read_json(path: Path) -> dict:
    """The JSON object in ``path``, or ``{}`` when there is no such file."""
    return json.loads(path.read_text()) if path.is_file() else {}


def data_record(data: str | None) -> dict | None:
    """What the model was trained on: the path as given (relative to the shared data folder when inside it) and
    the sha256 of the file, or of each file of the folder; a description as is when it names no file."""
    if not data:
        return None
    from zoo.data import paths

    path = Path(data).expanduser()
    if not path.exists():
        return {"name": data}
    shared = paths.shared_data_dir()
    resolved = path.resolve()
    name = str(resolved.relative_to(shared)) if shared and resolved.is_relative_to(shared) else str(path)
    files = [resolved] if resolved.is_file() else sorted(p for p in resolved.iterdir() if p.is_file())
    return {"name": name, "sha256": {file.name: sha256_file(file) for file in files}}


def evaluate(kind: str, model, preset: Path, run: Path, data=None, data_dir=None, seed=0, **options) -> dict:
    """The metrics of ``model`` (loaded from the preset directory ``preset``, trained in ``run``) by the evaluator
    its family registered for ``kind`` (:class:`zoo.families.PresetKind`); ``options`` (``ais_betas``,
    ``samples``, ...) go to the evaluators that take them."""
    from zoo.families import preset_kinds, resolve

    registered = preset_kinds().get(kind)
    if registered is None or registered.evaluate is None:
        raise ValueError(f"no evaluation for models of kind {kind!r}; the kinds with one are "
                         f"{', '.join(name for name, k in preset_kinds().items() if k.evaluate)}")
    return resolve(registered.evaluate)(model, preset=preset, run=run, data=data, data_dir=data_dir, seed=seed,
                                        **options)


def evaluate_run(run, seed: int = 0, data_dir=None, **options) -> dict:
    """The metrics of the finished ``kzoo train`` run in the folder ``run``, measured again by its kind's evaluator
    (:func:`evaluate`) on the data and settings of the run's own config.json, training and writing nothing: what
    ``kzoo train KIND --out RUN --evaluate-only`` prints. A folder that holds no finished run is refused, naming
    what is missing."""
    from zoo.presets.kinds import kind_of_class
    from zoo.presets.loading import load
    from zoo.training import CONFIG_FILE, finished_run

    run = Path(run).expanduser()
    config_path = run / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"{run} holds no kzoo training run (no {CONFIG_FILE}); train one there first, "
                                "without --evaluate-only")
    config = read_json(config_path)
    if finished_run(run, config, verbose=0) is None:
        raise ValueError(f"the run in {run} has not finished its {config.get('epochs')} epochs; rerun the command "
                         "without --evaluate-only to finish (resume) it, then evaluate")
    model = load(run)
    kind = kind_of_class(type(model))
    data_dir = data_dir if data_dir is not None else config.get("data_dir")
    return evaluate(kind, model, run, run, data=config.get("text"), data_dir=data_dir, seed=seed, **options)


def training_record(kind: str, run: Path) -> dict:
    """Epochs and training seconds of the run, from the files its ``kzoo train`` command wrote."""
    if kind == "charlm":
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").is_file() else []
        return {"epochs": len(history), "seconds": round(sum(h["seconds"] for h in history), 1)}
    metrics = read_json(run / "metrics.json")
    record = {key: metrics[key] for key in ("epochs", "dataset", "hidden", "k", "persistent", "batch_size",
                                            "learning_rate", "architecture", "corruption", "level", "seed")
              if key in metrics}
    if "seconds_per_epoch" in metrics:
        record["seconds"] = round(sum(metrics["seconds_per_epoch"]), 1)
    return record


def build(name: str, run, out=None, description: str = "", data: str | None = None, command: str | None = None,
          max_bytes: int = MAX_PRESET_BYTES, **evaluation) -> dict:
    """Write the preset ``name`` from the run folder ``run`` into ``out`` (default the bundled folder); returns
    its metadata. ``evaluation``: ``data_dir``, ``seed``, ``ais_betas``, ``ais_runs``, ``samples`` of
    :func:`evaluate`; a preset over ``max_bytes`` is refused."""
    from zoo.presets.format import read_preset, save_preset
    from zoo.presets.kinds import kind_of_class
    from zoo.presets.loading import load

    run = Path(run)
    out = Path(out) if out else BUNDLED_DIR / name
    model = load(run)
    kind = kind_of_class(type(model))
    if hasattr(model, "for_generation"):  # t2i: only the text encoder and generator ship
        model = model.for_generation()
    metadata = {"name": name, "description": description,
                "training": {"command": command, "data": data_record(data), **training_record(kind, run)}}
    with tempfile.TemporaryDirectory() as scratch:
        staged = save_preset(model, Path(scratch) / name, metadata=metadata)
        size = read_preset(staged)[0]["size_bytes"]
        if size > max_bytes:
            raise ValueError(f"preset {name} is {size / 1e6:.2f} MB, over the {max_bytes / 1e6:.1f} MB limit; "
                             f"train a smaller model")
        shipped = load(staged, kind=kind)
        metadata["metrics"] = evaluate(kind, shipped, staged, run, data=data, **evaluation)
        save_preset(shipped, out, metadata=metadata)
    return read_preset(out)[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zoo.presets.build", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("name", help="preset name, e.g. charlm-shakespeare")
    parser.add_argument("--run", required=True, help="the --out folder of the `kzoo train` run")
    parser.add_argument("--out", help="preset directory (default: zoo/presets/bundled/NAME)")
    parser.add_argument("--description", default="", help="one line saying what the model is")
    parser.add_argument("--data", help="training data: a file or folder (hashed) or a description")
    parser.add_argument("--data-dir", help="rbm/dae: folder of the dataset's files (default: the --data folder)")
    parser.add_argument("--command", help="the training command, recorded in the metadata")
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation (AIS, corruption, samples)")
    parser.add_argument("--ais-betas", type=int, default=14500, help="rbm: AIS inverse temperatures")
    parser.add_argument("--ais-runs", type=int, default=100, help="rbm: AIS runs")
    parser.add_argument("--samples", type=int, default=1000, help="t2i: held-out captions to evaluate on")
    parser.add_argument("--max-bytes", type=int, default=MAX_PRESET_BYTES, help="size limit of the preset")
    args = parser.parse_args(argv)
    quiet_tensorflow_start()  # TensorFlow's start-up lines hidden, as in `kzoo`
    if args.data_dir is None and args.data and Path(args.data).is_dir():
        args.data_dir = args.data
    metadata = build(args.name, args.run, args.out, args.description, args.data, args.command, args.max_bytes,
                     data_dir=args.data_dir, seed=args.seed, ais_betas=args.ais_betas, ais_runs=args.ais_runs,
                     samples=args.samples)
    print(json.dumps({key: metadata[key] for key in ("name", "kind", "parameters", "size_bytes", "metrics",
                                                     "training")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
