"""Held-out hostile inputs: a second generator, written apart from tests/hostile/make_inputs.py and run once.

The base log is simulated (attrition.synthetic, 150 cases, seed 2024), unlike the hand-built base of the test
suite, and the files are shaped differently (exports concatenated with repeated headers, old Mac line endings,
padded Excel sheets, tz-aware Parquet, lower-case postcodes, surname-first names, ...). Each input states what
should happen; the script reports, for each, whether reading it gave that, and whether anything other than a
DataValidationError escaped (a defect whatever the expectation).

Run: ``.venv/bin/python tests/studies/hostile_heldout.py``

Result, first (held-out) run, branch ``inputs`` at commit "docs/data-standard.md: reading extracts ...",
2 December 2026: **28 of 33 handled as expected; no exception other than DataValidationError escaped and no
traceback from the CLI** (all 33). The 5 misses were all identifiers let through: the column names
``Contact Number`` and ``PNC ID``; in free text a lower-case postcode (``sw1a 1aa``), a surname-first name
(``Smith, John``) and a date of birth with the month in words (``date of birth: 3 March 1979``). Those were then
added to the checks (no longer held out): second run 33 of 33.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = "2024-03-31"


def base():
    from attrition.synthetic import simulate

    d = simulate(n_cases=150, random_state=2024, first_year=2020, n_years=2, as_of=AS_OF)
    ev = d.events.copy()
    ev["timestamp"] = ev["timestamp"].dt.strftime("%Y-%m-%d")
    for c in ev.columns:
        if isinstance(ev[c].dtype, pd.CategoricalDtype):
            ev[c] = ev[c].astype(object)
    ev["outcome_code"] = ev["outcome_code"].astype("Int64")
    return ev


def make(out: Path):
    ev = base()
    n, ncase = len(ev), ev["case_id"].nunique()
    cases = []   # (name, expect, detail, opts)

    def csv(df, **kw):
        return df.to_csv(index=False, **kw)

    def put(name, data, expect, detail="", **opts):
        p = out / name
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8", newline="")
        elif isinstance(data, bytes):
            p.write_bytes(data)
        cases.append((name, expect, detail, opts))

    # valid, awkward
    put("mac_cr.csv", csv(ev).replace("\n", "\r"), "ok", (n, ncase))
    put("bom_semicolon_crlf_quoted.csv", "\ufeff" + csv(ev, sep=";", quoting=1).replace("\n", "\r\n"), "ok", (n, ncase))
    dmy_t = ev.assign(timestamp=pd.to_datetime(ev["timestamp"]).dt.strftime("%d/%m/%Y 00:00"))
    put("dayfirst_with_time.csv", csv(dmy_t), "ok", (n, ncase), dayfirst=True)
    put("dayfirst_dashes.csv", csv(ev.assign(timestamp=pd.to_datetime(ev["timestamp"]).dt.strftime("%d-%m-%Y"))),
        "ok", (n, ncase), dayfirst=True)
    put("tab_named_csv.csv", csv(ev, sep="\t"), "ok", (n, ncase))
    put("long_field.csv", csv(ev.assign(narrative=["x" * 100_000] + ["-"] * (n - 1))), "ok", (n, ncase))
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for _ in range(4):
        ws.append([None])
    ws.append(["Extract of stalking crimes"])
    ws.append([c.upper() for c in ev.columns])
    for r in ev.itertuples(index=False):
        ws.append([None if pd.isna(v) else (int(v) if isinstance(v, (np.integer,)) else v) for v in r])
    for _ in range(300):
        ws.append([None] * len(ev.columns))
    wb.save(out / "padded.xlsx")
    cases.append(("padded.xlsx", "ok", (n, ncase), {}))
    pq = ev.copy()
    pq["timestamp"] = pd.to_datetime(pq["timestamp"]).dt.tz_localize("UTC")
    pq["case_id"] = pq["case_id"].astype("int64")
    pq.to_parquet(out / "tz_int_ids.parquet", index=False)
    cases.append(("tz_int_ids.parquet", "ok", (n, ncase), {}))
    cat = ev.copy()
    for c in ("force", "event", "offence"):
        cat[c] = cat[c].astype("category")
    cat["timestamp"] = pd.to_datetime(cat["timestamp"]).dt.date
    cat.to_parquet(out / "categorical_date32.parquet", index=False)
    cases.append(("categorical_date32.parquet", "ok", (n, ncase), {}))
    put("excel_float_ids.csv", csv(ev.assign(case_id=ev["case_id"].astype(float))), "ok", (n, ncase))

    # refused as a whole
    gz = gzip.compress(csv(ev).encode())
    put("cut_at_90pc.csv.gz", gz[: int(len(gz) * 0.9)], "refuse", "corrupt_file")
    put("workbook.xlsx.gz", gzip.compress((out / "padded.xlsx").read_bytes()), "refuse", "unsupported_type")
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w") as zf:
        zf.writestr("x.xlsx", (out / "padded.xlsx").read_bytes())
    put("zip_of_xlsx.zip", zb.getvalue(), "refuse", "encoding")
    put("nul_in_middle.csv", csv(ev).replace("\n", "\x00\n", 3), "refuse", "encoding")
    import pyarrow as pa
    import pyarrow.parquet as pqm

    t = pa.Table.from_pandas(ev, preserve_index=False)
    pqm.write_table(t.append_column("s", pa.array([{"a": 1}] * n)), out / "struct.parquet")
    cases.append(("struct.parquet", "refuse", "nested_column", {}))
    for col, rule in [("Surname", "identifier_column"), ("Contact Number", "identifier_column"),
                      ("victim_dob", "identifier_column"), ("Address Line 1", "identifier_column"),
                      ("Email", "identifier_column"), ("PNC ID", "identifier_column"), ("Victim", "identifier_values")]:
        vals = "x" if rule == "identifier_column" else np.array(["Anne Hughes", "Tom Ward"], dtype=object)[np.arange(n) % 2]
        put(f"ident_{col.replace(' ', '_')}.csv", csv(ev.assign(**{col: vals})), "refuse", rule)
    for key, value in [("postcode_lower", "near sw1a 1aa"), ("phone_compact", "+447700900123"),
                       ("nhs_compact", "9434765919"), ("surname_first", "Smith, John"),
                       ("email_officer", "pc.jones@kent.police.uk"), ("dob_words", "date of birth: 3 March 1979")]:
        vals = np.where(np.arange(n) == 9, value, "no further info")
        put(f"content_{key}.csv", csv(ev.assign(officer_notes=vals)), "refuse", "identifier_values")

    # read, a rule broken
    rep_header = csv(ev.iloc[: n // 2]) + csv(ev.iloc[n // 2:])
    put("concatenated_with_header.csv", rep_header, "rule", "unknown_event")
    put("day_zero.csv", csv(ev.assign(timestamp=ev["timestamp"].where(ev.index != 5, "2021-00-10"))), "rule",
        "unparseable_timestamp")
    first_rep = ev.index[ev["event"] == "reported"][0]
    put("eve_of_offence.csv", csv(ev.assign(timestamp=ev["timestamp"].where(ev.index != first_rep, "2012-11-24"))),
        "rule", "before_offences_in_force")
    mixed = ev.copy()
    mixed.loc[mixed.index[:20], "timestamp"] = pd.to_datetime(mixed["timestamp"][:20]).dt.strftime("%d/%m/%Y")
    put("some_dayfirst.csv", csv(mixed), "rule", "day_first_date")
    ids = ev["case_id"].astype(str)
    first_id = ids.iloc[0]
    put("zero_padded_one_row.csv", csv(ev.assign(case_id=ids.where(ids.index != ids.index[1], "000" + first_id))),
        "rule", "near_duplicate_id")
    return cases


def run():
    from attrition.cli import main
    from attrition.data import load_events
    from attrition.exceptions import DataValidationError

    tmp = Path(tempfile.mkdtemp(prefix="heldout-"))
    cases = [c for c in make(tmp) if c[1] != "skip"]
    good = 0
    rows = []
    for name, expect, detail, opts in cases:
        path = tmp / name
        got, escaped = "", None
        try:
            ev, rep = load_events(path, as_of=AS_OF, return_report=True, **opts)
            got = f"ok {len(ev)} rows {ev['case_id'].nunique()} cases"
            fine = expect == "ok" and (len(ev), ev["case_id"].nunique()) == detail
        except DataValidationError as err:
            rule = err.rule or ",".join(err.problems["rule"]) if err.problems is not None else err.rule
            got = f"refused ({rule})"
            fine = (expect == "refuse" and err.rule == detail) or (expect == "rule" and detail in (rule or ""))
        except Exception as err:  # noqa: BLE001 - the point is to see it
            escaped = f"{type(err).__name__}: {err}"
            got, fine = "ESCAPED " + escaped[:80], False
        argv = ["validate", str(path), "--as-of", AS_OF] + (["--dayfirst"] if opts.get("dayfirst") else [])
        err_buf = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err_buf):
            try:
                code = main(argv)
            except BaseException as exc:  # noqa: BLE001
                code = f"raised {type(exc).__name__}"
        tb = "Traceback" in err_buf.getvalue()
        fine = fine and not tb and isinstance(code, int)
        good += fine
        rows.append((("PASS" if fine else "FAIL"), name, expect, detail, got, code))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    for r in rows:
        print(f"{r[0]}  {r[1]:34s} expect {r[2]:6s} {str(r[3]):22s} got {r[4]}  (cli exit {r[5]})")
    print(f"\n{good} of {len(rows)} held-out inputs handled as expected")


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(run())
