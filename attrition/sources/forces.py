"""The force table: the 43 territorial police forces of England and Wales, and force-name matching."""
from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from ..config import REFERENCE_DIR

FORCES_PATH = REFERENCE_DIR / "forces.csv"

_NOTE = re.compile(r"\s*\[(?:note|Note|NOTE)[^\]]*\]\s*")
_SUFFIXES = (" constabulary", " police service", " police force", " police")


def _key(name: str) -> str:
    """Normalised matching key: no notes, '&' -> 'and', lower case, punctuation and spaces folded."""
    s = _NOTE.sub(" ", str(name)).replace("&", " and ").lower()
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    return s


@lru_cache(maxsize=2)
def load_force_table(include_non_territorial: bool = False) -> pd.DataFrame:
    """The force table, one row per force.

    Parameters
    ----------
    include_non_territorial : bool, default False
        Also return British Transport Police and the national fraud bodies (``kind`` says which).

    Returns
    -------
    pandas.DataFrame
        Columns ``force`` (official Home Office name), ``ons_code``, ``region``, ``country``, ``kind``,
        ``name_variants``; 43 rows for the territorial forces.
    """
    df = pd.read_csv(FORCES_PATH, dtype=str, keep_default_na=False).rename(columns={"name": "force"})
    if not include_non_territorial:
        df = df[df["kind"] == "territorial"]
    return df.reset_index(drop=True)


#: Welsh-language names of the Welsh forces -> official (Home Office) name.
_WELSH_NAMES = {"Heddlu Dyfed-Powys": "Dyfed-Powys", "Heddlu Gogledd Cymru": "North Wales",
                "Heddlu Gwent": "Gwent", "Heddlu De Cymru": "South Wales"}


@lru_cache(maxsize=1)
def _alias_map() -> dict[str, str]:
    table = load_force_table(include_non_territorial=True)
    out: dict[str, str] = {}
    for force, variants in zip(table["force"], table["name_variants"]):
        names = [force] + [v for v in variants.split(";") if v.strip()]
        for n in names:
            n = re.sub(r"\(.*?\)", "", n)
            k = _key(n)
            out[k] = force
            for suf in _SUFFIXES:
                if k.endswith(suf.strip()) and k != suf.strip():
                    out[k[: -len(suf.strip())].strip()] = force
    # the official Welsh-language names of the four Welsh forces (forms of address in Wales, not in the Home
    # Office tables, so kept here rather than in the shared force table)
    for welsh, force in _WELSH_NAMES.items():
        for n in (welsh, welsh.removeprefix("Heddlu ")):
            out.setdefault(_key(n), force)
    # common forms not listed as variants
    for force in table["force"]:
        k = _key(force)
        for suf in _SUFFIXES:
            out.setdefault(f"{k}{suf}".strip(), force)
    return out


def normalise_force_names(names) -> pd.Series:
    """Map force names as written in any official table to the force table's official names.

    Matching ignores case, punctuation, ``&`` vs ``and``, trailing ``[Note n]`` markers and suffixes such
    as "Police" or "Constabulary". Non-territorial bodies (British Transport Police) map to their own
    official name, so callers can keep them separate via ``load_force_table(True)['kind']``.

    Parameters
    ----------
    names : array-like of str

    Returns
    -------
    pandas.Series of str
        Same index as ``names`` (if a Series), official names, ``<NA>`` where nothing matched.
    """
    s = pd.Series(names) if not isinstance(names, pd.Series) else names
    uniques = pd.unique(s.dropna())
    amap = _alias_map()
    mapping = {}
    for u in uniques:
        k = _key(u)
        hit = amap.get(k)
        if hit is None:
            for suf in _SUFFIXES:
                if k.endswith(suf.strip()):
                    hit = amap.get(k[: -len(suf.strip())].strip())
                    if hit:
                        break
        mapping[u] = hit
    return s.map(mapping).astype("string")


def territorial_forces() -> tuple[str, ...]:
    """The 43 territorial forces' official names, sorted as in the force table."""
    return tuple(load_force_table()["force"])
