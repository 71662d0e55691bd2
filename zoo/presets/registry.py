"""The bundled presets (package data under ``zoo/presets/bundled/<name>/``): names, listing and the table of
``kzoo models``.

Free of TensorFlow imports: listing reads each preset's ``metadata.json`` only.
"""

from __future__ import annotations

import json
from pathlib import Path

from zoo.presets.format import METADATA_FILE, read_preset

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
# The forms of reference zoo.load accepts, for error messages.
ACCEPTED_FORMS = ("a preset name (see `kzoo models`)", "a preset directory",
                  "a `kzoo train` output folder", "a .keras file",
                  "an https://, http:// or file:// URL of a .keras file or of a .tar.gz/.zip preset, with its sha256")


def preset_names() -> list[str]:
    """Names of the bundled presets, sorted."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(path.name for path in BUNDLED_DIR.iterdir() if (path / METADATA_FILE).is_file())


def preset_dir(name: str) -> Path | None:
    """The directory of the bundled preset ``name``, or None when there is none by that name."""
    if not isinstance(name, str) or name not in preset_names():
        return None
    return BUNDLED_DIR / name


def unknown_preset_message(ref, kind: str | None = None) -> str:
    """The error for a reference that names nothing: the bundled names (of ``kind`` when given) and the accepted
    forms of reference."""
    from zoo.presets.kinds import KINDS

    names = ", ".join(row["name"] for row in presets(kind)) if kind else ", ".join(preset_names())
    what = f"no {KINDS[kind].description} at {str(ref)!r}: " if kind in KINDS else ""
    bundled = f"Bundled presets of kind {kind}" if kind else "Bundled presets"
    return (f"{what}no preset, file or directory named {str(ref)!r}. {bundled}: {names or 'none'}. A model "
            f"reference is one of: {'; '.join(ACCEPTED_FORMS)}")


def _summary(name: str, directory: Path) -> dict:
    metadata = read_preset(directory)[0]
    size = sum(int(entry.get("bytes", 0)) for entry in metadata["files"].values() if isinstance(entry, dict))
    return {"name": name, "kind": metadata.get("kind", "?"), "description": metadata.get("description", ""),
            "size_mb": round(size / 1e6, 2), "parameters": metadata.get("parameters"),
            "metrics": metadata.get("metrics", {}), "path": str(directory)}


def presets(kind: str | None = None) -> list[dict]:
    """The bundled presets as dicts: name, kind, description, size_mb, parameters, metrics, path (of ``kind``
    only when given)."""
    rows = [_summary(name, BUNDLED_DIR / name) for name in preset_names()]
    return [row for row in rows if kind is None or row["kind"] == kind]


def _format_metric(name: str, value) -> str:
    if isinstance(value, dict):  # e.g. attribute accuracy per attribute
        return f"{name} " + "/".join(f"{key} {item:.2f}" for key, item in value.items()
                                     if isinstance(item, (int, float)))
    if isinstance(value, float):
        return f"{name} {value:.4g}"
    return f"{name} {value}"


def format_metrics(kind: str, metrics: dict, limit: int = 2) -> str:
    """The kind's key metrics (``PresetKind.key_metrics``; else the first ``limit`` numbers) as ``name value``
    pairs."""
    from zoo.presets.kinds import KINDS

    key_metrics = KINDS[kind].key_metrics if kind in KINDS else ()
    names = [name for name in key_metrics if name in metrics]
    if not names:
        names = [name for name, value in metrics.items()
                 if isinstance(value, (int, float, dict)) and not isinstance(value, bool)][:limit]
    return ", ".join(_format_metric(name, metrics[name]) for name in names)


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`presets` rows: name, kind, size, key metrics and description."""
    if not rows:
        return "no presets bundled"
    table = [("name", "kind", "size (MB)", "metrics", "description")]
    table += [(row["name"], row["kind"], f"{row['size_mb']:.2f}", format_metrics(row["kind"], row["metrics"]),
               row["description"]) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[-1]
                     for line in table)


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)
