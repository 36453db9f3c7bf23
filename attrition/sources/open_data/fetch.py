"""Download the published open-data files into a local cache, checking each against its checksum.

The releases are one line each in ``releases.csv`` beside this module (``name, kind, period, url, sha256,
filename, source_page``), so a new release is one line. A release with an empty ``sha256`` has not been
checked by the maintainers yet: it is downloaded, its checksum is reported (:class:`FetchResult`), and
``require_checksum=True`` refuses it. Only the standard library is used (``urllib``).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from ...exceptions import DataValidationError, FetchError

__all__ = ["RELEASES_PATH", "load_releases", "fetch", "FetchResult", "sha256sum"]

RELEASES_PATH = Path(__file__).resolve().parent / "releases.csv"
_COLUMNS = ("name", "kind", "period", "url", "sha256", "filename", "source_page")


def load_releases(path=None) -> pd.DataFrame:
    """The release table (default: the one shipped with the package), checked.

    Raises
    ------
    DataValidationError
        Missing columns, repeated names, a URL that is not http(s), a sha256 that is not 64 hex digits,
        or a file name with a directory part.
    """
    path = RELEASES_PATH if path is None else Path(path)
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    miss = [c for c in _COLUMNS if c not in t.columns]
    if miss:
        raise DataValidationError(f"{path.name}: release table lacks column(s) {miss}.")
    rows = lambda m: [int(i) + 2 for i in t.index[m]]  # noqa: E731 - 1-based file lines
    checks = [
        (t["name"].duplicated(keep=False), "repeated release name"),
        (~t["url"].str.match(r"^https?://"), "url is not http(s)"),
        ((t["sha256"] != "") & ~t["sha256"].str.fullmatch(r"[0-9a-fA-F]{64}"), "sha256 is not 64 hex digits"),
        ((t["filename"] == "") | t["filename"].str.contains(r"[/\\]") | t["filename"].str.startswith("."),
         "filename is empty or has a directory part"),
    ]
    for mask, rule in checks:
        if mask.any():
            raise DataValidationError(f"{path.name}: {rule} on line(s) {rows(mask.to_numpy())}.")
    t["sha256"] = t["sha256"].str.lower()
    return t


@dataclass(frozen=True)
class FetchResult:
    """One release fetched: ``status`` is "downloaded", "cached" (already there, checksum ok) or
    "unverified" (downloaded; no checksum on record - ``sha256`` is what was received)."""

    name: str
    path: Path
    sha256: str
    status: str
    n_bytes: int


def sha256sum(path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(names: Sequence[str] | None = None, cache_dir=None, *, releases=None, require_checksum: bool = False,
          refresh: bool = False, timeout: float = 120.0) -> list[FetchResult]:
    """Download published files into ``cache_dir`` (default ``attrition.config.CACHE_DIR / "open-data"``).

    Parameters
    ----------
    names : sequence of str, optional
        Release names (``outcomes-2021-22``) or kinds (``outcomes``, ``recorded``); default every release.
    cache_dir : str or os.PathLike, optional
    releases : str, os.PathLike or pandas.DataFrame, optional
        Another release table (tests point it at a local server).
    require_checksum : bool, default False
        Refuse releases whose checksum is not on record.
    refresh : bool, default False
        Download again even if a file with the right checksum is cached.
    timeout : float, default 120
        Seconds per connection attempt.

    Returns
    -------
    list of FetchResult

    Raises
    ------
    FetchError
        HTTP error or unreachable server (URL and status named); checksum mismatch (expected and received
        named; the download is deleted, any cached copy left as it was); a checksum required but absent.
    DataValidationError
        Unknown release names; a bad release table.
    """
    from ...config import CACHE_DIR

    table = releases if isinstance(releases, pd.DataFrame) else load_releases(releases)
    if names:
        wanted = set(names)
        unknown = sorted(wanted - set(table["name"]) - set(table["kind"]))
        if unknown:
            raise DataValidationError(f"unknown release(s) {unknown}; known: {table['name'].tolist()}")
        table = table.loc[table["name"].isin(wanted) | table["kind"].isin(wanted)]
    cache = Path(CACHE_DIR / "open-data" if cache_dir is None else cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    results = []
    for rel in table.itertuples(index=False):  # one download per release
        dest = cache / rel.filename
        expected = rel.sha256
        if require_checksum and not expected:
            raise FetchError(f"{rel.name}: no sha256 on record in the release table; refusing to download "
                             "an unverified file (drop --require-checksum, or add the checksum).")
        if dest.exists() and not refresh and expected and sha256sum(dest) == expected:
            results.append(FetchResult(rel.name, dest, expected, "cached", dest.stat().st_size))
            continue
        got, n = _download(rel.name, rel.url, dest, expected, timeout)
        results.append(FetchResult(rel.name, dest, got, "downloaded" if expected else "unverified", n))
    return results


def _download(name: str, url: str, dest: Path, expected: str, timeout: float) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "attrition-fetch"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
                        n += len(block)
            except urllib.error.HTTPError as err:
                raise FetchError(f"{name}: HTTP {err.code} {err.reason} from {url}") from None
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise FetchError(f"{name}: cannot download {url} ({reason})") from None
        got = h.hexdigest()
        if expected and got != expected:
            raise FetchError(f"{name}: checksum mismatch for {url}: expected sha256 {expected}, received {got} "
                             f"({n:,} bytes). The download was discarded; the release may have been replaced - "
                             "check the source page and update the release table.")
        shutil.move(tmp, dest)
        tmp = None
        return got, n
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
