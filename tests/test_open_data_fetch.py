"""attrition fetch against a local HTTP server on 127.0.0.1 (http.server in a thread); no network."""
from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pandas as pd
import pytest

from attrition.cli import main
from attrition.exceptions import DataValidationError, FetchError
from attrition.sources.open_data.fetch import RELEASES_PATH, fetch, load_releases, sha256sum

PAYLOAD = b"Financial Year,Force Name,Offence Code,Outcome Type,Count\n2021/22,Kent,8Q,1,3\n"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "outcomes.csv").write_bytes(PAYLOAD)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _table(tmp_path, url, sha, filename="outcomes.csv", name="outcomes-test"):
    p = tmp_path / "releases.csv"
    pd.DataFrame([{"name": name, "kind": "outcomes", "period": "2021/22", "url": url, "sha256": sha,
                   "filename": filename, "source_page": "http://127.0.0.1/"}]).to_csv(p, index=False)
    return p


def test_fetch_checks_checksum_then_uses_cache(tmp_path, server):
    base, root = server
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    rel = _table(tmp_path, f"{base}/outcomes.csv", sha)
    cache = tmp_path / "cache"
    [r] = fetch(cache_dir=cache, releases=rel)
    assert (r.status, r.sha256, r.n_bytes) == ("downloaded", sha, len(PAYLOAD))
    assert (cache / "outcomes.csv").read_bytes() == PAYLOAD and sha256sum(cache / "outcomes.csv") == sha
    (root / "outcomes.csv").unlink()  # the server no longer has it: the cached copy is used
    [r2] = fetch(cache_dir=cache, releases=rel)
    assert r2.status == "cached"


def test_fetch_checksum_mismatch_discards_download(tmp_path, server):
    base, _ = server
    rel = _table(tmp_path, f"{base}/outcomes.csv", "0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match=r"outcomes-test: checksum mismatch .*expected sha256 0{64}, received "
                                         + hashlib.sha256(PAYLOAD).hexdigest()):
        fetch(cache_dir=cache, releases=rel)
    assert list(cache.iterdir()) == []  # nothing left behind, not even the temporary file


def test_fetch_http_error_and_unreachable(tmp_path, server):
    base, _ = server
    with pytest.raises(FetchError, match=r"outcomes-test: HTTP 404 .* from http://127\.0\.0\.1:\d+/missing\.csv"):
        fetch(cache_dir=tmp_path / "c", releases=_table(tmp_path, f"{base}/missing.csv", ""))
    with pytest.raises(FetchError, match=r"cannot download http://127\.0\.0\.1:9/x\.csv"):
        fetch(cache_dir=tmp_path / "c", releases=_table(tmp_path, "http://127.0.0.1:9/x.csv", ""), timeout=5)


def test_fetch_unverified_and_required(tmp_path, server, capsys):
    base, _ = server
    rel = _table(tmp_path, f"{base}/outcomes.csv", "")
    [r] = fetch(cache_dir=tmp_path / "c", releases=rel)
    assert r.status == "unverified" and r.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(FetchError, match="no sha256 on record"):
        fetch(cache_dir=tmp_path / "c2", releases=rel, require_checksum=True)
    assert main(["fetch", "--releases", str(rel), "--cache", str(tmp_path / "c3")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("unverified outcomes-test:") and hashlib.sha256(PAYLOAD).hexdigest() in out
    assert main(["fetch", "--releases", str(rel), "--cache", str(tmp_path / "c4"), "--require-checksum"]) == 1
    assert "no sha256 on record" in capsys.readouterr().err
    with pytest.raises(DataValidationError, match=r"unknown release\(s\) \['nope'\]"):
        fetch(["nope"], cache_dir=tmp_path / "c", releases=rel)


def test_release_table_shipped_and_checked(tmp_path):
    t = load_releases()
    assert RELEASES_PATH.name == "releases.csv" and t["name"].is_unique
    assert {"outcomes-2021-22", "recorded-pfa-2012-13-onwards"} <= set(t["name"])
    assert t["url"].str.startswith("https://assets.publishing.service.gov.uk/").all()
    bad = tmp_path / "bad.csv"
    t.assign(sha256="abc").to_csv(bad, index=False)
    with pytest.raises(DataValidationError, match=r"bad\.csv: sha256 is not 64 hex digits on line\(s\) \[2, 3"):
        load_releases(bad)
    t.assign(filename="../x").to_csv(bad, index=False)
    with pytest.raises(DataValidationError, match="directory part"):
        load_releases(bad)
