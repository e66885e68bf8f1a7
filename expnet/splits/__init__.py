"""Fixed dataset splits shipped with the package (identity names only, no data)."""

from __future__ import annotations

from importlib import resources


def lfw_validation_identities() -> set[str]:
    """Identities of lfw-expressions held out from training (for validation and evaluation).

    Made once by ``scripts/make_lfw_split.py``: identities with at most 20 images, in a seeded
    random order, until 10% of the labelled images are held out.
    """
    text = resources.files(__package__).joinpath("lfw_expressions_val_identities.txt").read_text()
    return {line.strip() for line in text.splitlines() if line.strip()}
