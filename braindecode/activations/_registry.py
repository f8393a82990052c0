"""The model registry: a manifest in ``models/registry.json`` plus one model card per model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from braindecode.errors import InvalidArgument, NotFound, quoted

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
REGISTRY_PATH = MODELS_DIR / "registry.json"

_REQUIRED = ("name", "modality", "factory", "card", "source", "training_data", "license",
             "preprocessing", "layers")


@dataclass(frozen=True)
class ModelCard:
    """One registry entry.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"efficientnet-lite0"``.
    modality : {"image", "text"}
        The kind of stimulus the network takes.
    factory : str
        Import path ``"package.module:function"`` of the loader; called as ``function(device)``.
    card : pathlib.Path
        The model card (Markdown).
    source, training_data, license, preprocessing : str
        Provenance, as written in the manifest.
    layers : list of str
        Default layers, ordered from early to late.
    extra : dict
        Any other manifest fields (input size, output classes, ...).
    """

    name: str
    modality: str
    factory: str
    card: Path
    source: str
    training_data: str
    license: str
    preprocessing: str
    layers: list
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The full model card."""
        return self.card.read_text()


def _card_from_entry(entry: dict, base: Path) -> ModelCard:
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise InvalidArgument(f"registry entry {entry.get('name', '?')!r} lacks {', '.join(missing)}")
    if entry["modality"] not in ("image", "text"):
        raise InvalidArgument(f"registry entry {entry['name']!r}: unknown modality {entry['modality']!r}")
    known = {key: entry[key] for key in _REQUIRED}
    known["card"] = base / entry["card"]
    known["layers"] = list(entry["layers"])
    extra = {key: value for key, value in entry.items() if key not in _REQUIRED}
    return ModelCard(**known, extra=extra)


def list_models(registry=None) -> list:
    """The models shipped with the project.

    Parameters
    ----------
    registry : path-like, optional
        A manifest to read instead of ``models/registry.json``.

    Returns
    -------
    cards : list of ModelCard
        In manifest order.
    """
    path = Path(registry) if registry is not None else REGISTRY_PATH
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"model registry {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"model registry {path} is not valid JSON: {exc}") from None
    return [_card_from_entry(entry, path.parent) for entry in manifest["models"]]


def get_model_card(name: str, registry=None) -> ModelCard:
    """The registry entry called ``name``; ``NotFound`` lists the registered names."""
    cards = list_models(registry)
    for card in cards:
        if card.name == name:
            return card
    raise NotFound(f"no model {quoted(name)} in the registry; available: {', '.join(c.name for c in cards)}")
