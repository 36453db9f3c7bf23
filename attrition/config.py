"""Paths and project-wide constants, in one place.

Paths never depend on the working directory (nbval runs kernels in ``notebooks/``).
"""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__file__).resolve().parent
STANDARD_DIR = PACKAGE_DIR / "standard"
DATA_DIR = PROJECT_ROOT / "data"
REFERENCE_DIR = DATA_DIR / "reference"
PUBLISHED_DIR = DATA_DIR / "published"
CACHE_DIR = DATA_DIR / "cache"
FIGURES_DIR = PROJECT_ROOT / "figures"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
MATPLOTLIBRC = STANDARD_DIR / "matplotlibrc"

#: Seed of the embedded default national dataset (and the default of every notebook).
DEFAULT_SEED = 20220331
#: Small-count threshold for statistical disclosure control: published cells below it are suppressed.
DISCLOSURE_THRESHOLD = 10
