"""Make hostile and messy event-log files, each with what reading it must give.

Run as a script to write them to a directory (``python tests/hostile/make_inputs.py OUT``); the test suite
(``tests/test_hostile_inputs.py``) calls :func:`make_all` into a pytest temporary directory, so no generated file
is committed. Every case is a :class:`Case`:

* ``expect="ok"``: read and validated without a broken rule, with ``n_rows`` events of ``n_cases`` cases;
* ``expect="refuse"``: the file is refused as a whole with a ``DataValidationError`` whose ``rule`` is
  ``rule`` and whose message names the file and contains ``where``;
* ``expect="rule"``: read, but validation breaks ``rule`` (named in the error with ``where``, e.g.
  ``"first lines: 5"``); with ``errors="exclude"`` ``n_cases`` valid cases remain.

The base log is built here by hand (30 cases, 5 forces, 2021-2022), independent of the synthetic generator.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = "2023-03-31"
FORCES = ["Kent", "Essex", "Metropolitan Police", "Dorset", "West Yorkshire"]


@dataclass
class Case:
    name: str
    expect: str                       # ok | refuse | rule
    rule: str | None = None
    where: str = ""
    n_rows: int | None = None
    n_cases: int | None = None
    opts: dict = field(default_factory=dict)        # keyword options of load_events
    argv: list = field(default_factory=list)        # the same options for `attrition validate` ({dir}: the folder)
    cli_exit: int | None = None                     # default: 0 for ok, 1 otherwise
    secret: tuple = ()                              # text that must never appear in a message


def base_events() -> pd.DataFrame:
    """30 valid journeys (181 events): reports, recordings, suspects, outcomes, charges, court results."""
    rows = []
    for i in range(30):
        cid = f"C{i + 1:03d}"
        force = FORCES[i % len(FORCES)]
        t0 = pd.Timestamp("2021-01-04") + pd.Timedelta(days=11 * i)

        def add(event, days, **det):
            rows.append({"case_id": cid, "force": force, "event": event,
                         "timestamp": (t0 + pd.Timedelta(days=days)).strftime("%Y-%m-%d"), **det})

        add("reported", 0, risk=["standard", "medium", "high"][i % 3], relationship="ex_partner")
        add("recorded", 1, offence="stalking_s2a" if i % 4 else "harassment")
        if i % 5 == 0:
            add("police_outcome", 40, outcome_code=18)
            continue
        add("suspect_identified", 3)
        if i % 3 == 0:
            add("police_outcome", 50, outcome_code=16)
            continue
        add("police_outcome", 60, outcome_code=1)
        add("charged", 60, offence="stalking_s4a")
        if i % 7 == 0:
            add("discontinued", 90, reason="evidential")
            continue
        add("first_hearing", 80)
        add("court_outcome", 150, result="convicted_stalking" if i % 2 else "acquitted")
        if i % 2:
            add("sentenced", 180)
    df = pd.DataFrame(rows)
    cols = ["case_id", "force", "event", "timestamp", "offence", "outcome_code", "result", "reason", "risk",
            "relationship"]
    df = df[cols]
    df["outcome_code"] = df["outcome_code"].astype("Int64")
    return df


def _csv(df: pd.DataFrame, **kw) -> str:
    return df.to_csv(index=False, **kw)


def _line_of(df: pd.DataFrame, case_id: str, event: str) -> int:
    """CSV line of a row (header = line 1)."""
    pos = np.flatnonzero((df["case_id"] == case_id).to_numpy() & (df["event"] == event).to_numpy())[0]
    return int(pos) + 2


def _set(df, case_id, event, col, value):
    out = df.copy()
    out[col] = out[col].astype(object)
    m = (out["case_id"] == case_id) & (out["event"] == event)
    out.loc[m.idxmax(), col] = value
    return out


def write_ods(frame_rows: list[list], path: Path) -> None:
    """A minimal OpenDocument spreadsheet with one sheet "Events" (the writer shared with the open-data tests)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, also when run as a script
    from _open_data_util import write_ods as _write

    _write(path, {"Events": frame_rows})


def _xlsx(df: pd.DataFrame, path: Path, *, title_rows=0, sheet="Events", other_sheet=False, dates=False) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if other_sheet:
        ws.title = "Notes"
        ws.append(["This workbook holds the extract on the sheet 'Events'"])
        ws = wb.create_sheet(sheet)
    else:
        ws.title = sheet
    for k in range(title_rows):
        ws.append([f"Stalking case extract, produced {AS_OF}" if k == 0 else None])
    ws.append(list(df.columns))
    for r in df.itertuples(index=False):
        vals = []
        for c, v in zip(df.columns, r):
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                vals.append(None)
            elif c == "timestamp" and dates:
                vals.append(pd.Timestamp(v).to_pydatetime())
            elif c == "outcome_code":
                vals.append(int(v))
            else:
                vals.append(v)
        ws.append(vals)
    wb.save(path)


def make_all(out: Path) -> list[Case]:
    """Write every hostile file into ``out`` and return the cases (at least 80)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = base_events()
    N, C = len(base), base["case_id"].nunique()
    text = _csv(base)
    cases: list[Case] = []

    def w(name, data, case: Case):
        p = out / name
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8", newline="")
        elif isinstance(data, (bytes, bytearray)):
            p.write_bytes(data)
        cases.append(case)

    def ok(name, data, n_rows=N, n_cases=C, **kw):
        w(name, data, Case(name, "ok", n_rows=n_rows, n_cases=n_cases, **kw))

    def refused(name, data, rule, where="", **kw):
        w(name, data, Case(name, "refuse", rule=rule, where=where, **kw))

    def broken(name, data, rule, where="", n_cases=C - 1, **kw):
        w(name, data, Case(name, "rule", rule=rule, where=where, n_cases=n_cases, **kw))

    # ---------------------------------------------------------------- valid but awkward: read correctly
    ok("plain.csv", text)
    ok("bom.csv", "\ufeff" + text)
    ok("crlf.csv", text.replace("\n", "\r\n"))
    ok("utf16le_bom.csv", text.encode("utf-16"))             # Python writes a little-endian BOM
    ok("utf16be_bom.csv", b"\xfe\xff" + text.encode("utf-16-be"))
    ok("utf16le_nobom.csv", text.encode("utf-16-le"))
    cp = base.assign(comment=np.where(np.arange(N) % 4 == 0, "damage £50 – café window", "none"))
    ok("cp1252.csv", _csv(cp).encode("cp1252"))
    # non-ASCII only after the first 64 KiB: detected while reading, not from the first bytes
    late = _csv(base.assign(comment=["x" * 400] * (N - 1) + ["naïve £"])).encode("cp1252")
    assert len(late) > 1 << 16
    ok("cp1252_late.csv", late)
    ok("semicolon.csv", _csv(base, sep=";"))
    ok("excel_europe.csv", "\ufeff" + _csv(base, sep=";").replace("\n", "\r\n"))
    ok("tab.tsv", _csv(base, sep="\t"))
    ok("pipe.txt", _csv(base, sep="|"))
    ok("all_quoted.csv", _csv(base, quoting=1))
    embedded = base.assign(comment=["said: \"stop\", then left\nnext day"] + ["-"] * (N - 1))
    ok("embedded_newline.csv", _csv(embedded))
    ok("extra_columns.csv", _csv(base.assign(**{"Force Name": base["force"], "station": "Central",
                                                "officer_grade": "DC"})))
    ok("header_styles.csv", _csv(base.rename(columns={"case_id": "Case ID", "force": "FORCE", "event": "Event",
                                                      "timestamp": "TimeStamp", "outcome_code": "Outcome Code"})))
    ok("camel_case.csv", _csv(base.rename(columns={"case_id": "caseId", "outcome_code": "outcomeCode"})))
    ok("datetimes.csv", _csv(base.assign(timestamp=base["timestamp"] + "T09:30")))
    ok("na_strings.csv", text.replace(",,", ",NA,"))
    ok("spaces_around.csv", _csv(base.assign(event=" " + base["event"] + " ", force=base["force"] + " ")))
    ok("force_aliases.csv", _csv(base.assign(force=base["force"].replace(
        {"Metropolitan Police": "Metropolitan Police Service", "Kent": "Kent Police"}))))
    blank_mid = text.splitlines(keepends=True)
    ok("blank_lines.csv", "".join(blank_mid[:10] + ["\n", ",,,,,,,,,\n"] + blank_mid[10:] + ["\n", "\n"]))
    ok("trailing_delimiter_data_rows.csv", "".join([text.splitlines(keepends=True)[0]] +
                                                    [ln.rstrip("\n") + ",\n" for ln in text.splitlines(keepends=True)[1:]]))
    ok("trailing_empty_columns.csv", "".join(ln.rstrip("\n") + ",,\n" for ln in text.splitlines(keepends=True)))
    one = base.iloc[[0]]
    ok("one_row.csv", _csv(one), n_rows=1, n_cases=1)
    ok("no_detail_columns.csv", _csv(base[base["event"].isin(["reported", "suspect_identified"])][
        ["case_id", "force", "event", "timestamp"]]), n_rows=int(base["event"].isin(["reported", "suspect_identified"]).sum()))
    ok("events.csv.gz", gzip.compress(text.encode()))
    ok("events.csv.bz2", bz2.compress(text.encode()))
    ok("events.csv.xz", lzma.compress(text.encode()))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("extract.csv", text)
    ok("events.zip", zbuf.getvalue())
    base.to_parquet(out / "events.parquet", index=False)
    ok("events.parquet", None)
    _xlsx(base, out / "events.xlsx")
    ok("events.xlsx", None)
    _xlsx(base, out / "dates.xlsx", dates=True)
    ok("dates.xlsx", None)
    _xlsx(base, out / "title_rows.xlsx", title_rows=3)
    ok("title_rows.xlsx", None)
    _xlsx(base, out / "second_sheet.xlsx", other_sheet=True)
    ok("second_sheet.xlsx", None, opts={"sheet": "Events"}, argv=["--sheet", "Events"])
    ods_rows = [list(base.columns)] + [[None if (v is pd.NA or (isinstance(v, float) and np.isnan(v))) else
                                        (int(v) if c == "outcome_code" else v) for c, v in zip(base.columns, r)]
                                       for r in base.itertuples(index=False)]
    write_ods(ods_rows, out / "events.ods")
    ok("events.ods", None)
    ods_dates = [ods_rows[0]] + [[pd.Timestamp(v) if j == 3 else v for j, v in enumerate(r)] for r in ods_rows[1:]]
    write_ods(ods_dates, out / "dates.ods")
    ok("dates.ods", None)
    mapping = {"case_id": "Crime Reference", "event": "Event Type", "force": "Force Name", "timestamp": "Date"}
    mapped = base.rename(columns={k: v for k, v in mapping.items()})
    ok("mapped.csv", _csv(mapped), opts={"columns": mapping},
       argv=["--columns", *[f"{k}={v}" for k, v in mapping.items()]])
    (out / "mapping.json").write_text(json.dumps(mapping))
    ok("mapped_by_file.csv", _csv(mapped), opts={"columns": mapping}, argv=["--columns-file", "{dir}/mapping.json"])
    (out / "mapping.toml").write_text("[columns]\n" + "".join(f'{k} = "{v}"\n' for k, v in mapping.items()))
    ok("mapped_by_toml.csv", _csv(mapped), opts={"columns": mapping}, argv=["--columns-file", "{dir}/mapping.toml"])
    dmy = base.assign(timestamp=pd.to_datetime(base["timestamp"]).dt.strftime("%d/%m/%Y"))
    ok("dayfirst.csv", _csv(dmy), opts={"dayfirst": True}, argv=["--dayfirst"])
    mapped_dmy = dmy.rename(columns=mapping)
    _xlsx(mapped_dmy, out / "force_export.xlsx", title_rows=2)
    ok("force_export.xlsx", None, opts={"columns": mapping, "dayfirst": True},
       argv=["--dayfirst", "--columns", *[f"{k}={v}" for k, v in mapping.items()]])
    ok("unmapped_force_name.csv", _csv(base.rename(columns={"force": "Force Name"})), opts={"columns": {"force": "Force Name"}},
       argv=["--columns", "force=Force Name"])

    # ---------------------------------------------------------------- refused as a whole
    refused("empty.csv", b"", "empty")
    refused("header_only.csv", "case_id,force,event,timestamp\n", "empty")
    (out / "a_directory.csv").mkdir(exist_ok=True)
    cases.append(Case("a_directory.csv", "refuse", rule="not_a_regular_file", where="directory"))
    fifo = out / "stream.csv"
    if hasattr(os, "mkfifo") and not fifo.exists():
        os.mkfifo(fifo)
        cases.append(Case("stream.csv", "refuse", rule="not_a_regular_file", where="FIFO"))
    zero = out / "zero.csv"
    if Path("/dev/zero").exists() and not zero.exists():
        zero.symlink_to("/dev/zero")
        cases.append(Case("zero.csv", "refuse", rule="not_a_regular_file", where="character device"))
    cases.append(Case("does_not_exist.csv", "refuse", rule="not_found", where="no such file"))
    refused("report.docx", b"PK\x03\x04 not really", "unsupported_type")
    refused("gzip_named.csv", gzip.compress(text.encode()), "mislabelled_file", where=".csv.gz")
    base.to_parquet(out / "parquet_named.csv", index=False)
    cases.append(Case("parquet_named.csv", "refuse", rule="mislabelled_file", where="Parquet"))
    refused("csv_named.parquet", text, "mislabelled_file", where="text")
    refused("plain_named.csv.gz", text, "mislabelled_file", where="plain text")
    refused("xls_named.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "mislabelled_file", where="Excel")
    gz = gzip.compress((text * 20).encode())
    refused("truncated.csv.gz", gz[: len(gz) // 2], "corrupt_file", where="truncated")
    pq_bytes = (out / "events.parquet").read_bytes()
    refused("truncated.parquet", pq_bytes[: len(pq_bytes) // 2], "corrupt_file", where="Parquet")
    refused("garbage_middle.parquet", pq_bytes[:8] + os.urandom(len(pq_bytes) - 16) + pq_bytes[-8:], "corrupt_file")
    zb = zbuf.getvalue()
    refused("truncated.zip", zb[: len(zb) // 2], "corrupt_file", where="ZIP")
    z2 = io.BytesIO()
    with zipfile.ZipFile(z2, "w") as zf:
        zf.writestr("a.csv", text)
        zf.writestr("b.csv", text)
    refused("two_members.zip", z2.getvalue(), "corrupt_file", where="2 files")
    refused("text_named.xlsx", text, "mislabelled_file", where="text")
    xb = (out / "events.xlsx").read_bytes()
    refused("truncated.xlsx", xb[: len(xb) // 2], "corrupt_file", where="workbook")
    refused("binary.csv", bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "encoding",
            where="binary")
    refused("utf32.csv", text.encode("utf-32"), "encoding", where="UTF-32")
    refused("not_text.csv", text.encode() + b"\x81\x8d\x8f\x90\x9d" * 3 + b"\n", "encoding")
    rag = text.splitlines(keepends=True)
    rag[4] = rag[4].rstrip("\n") + ",extra,cells\n"
    rag[9] = rag[9].rstrip("\n") + ",x\n"
    refused("ragged.csv", "".join(rag), "ragged_rows", where="line 5")
    refused("every_row_one_more_field.csv", "".join([rag[0]] + [ln.rstrip("\n") + ",x\n" for ln in text.splitlines(keepends=True)[1:]]),
            "ragged_rows", where="line 2 (11 fields)")
    ok("title_line.csv", "Stalking extract for Kent\n" + text)     # a title line above the header is skipped (as in a workbook)
    refused("unclosed_quote.csv", text.replace("C005,", '"C005,', 1), "csv_syntax", where="quote")
    refused("duplicate_header.csv", text.replace("case_id,force,event,timestamp",
                                                 "case_id,force,event,timestamp", 1).replace(",relationship\n", ",event\n", 1),
            "duplicate_column", where="'event'")
    refused("duplicate_after_normalising.csv", _csv(base.assign(**{"Case ID": base["case_id"]})), "duplicate_column",
            where="Case ID")
    refused("missing_timestamp.csv", _csv(base.drop(columns="timestamp")), "missing_column", where="timestamp")
    refused("bad_mapping.csv", _csv(mapped), "column_mapping", where="Crime Ref",
            opts={"columns": {**mapping, "case_id": "Crime Ref"}}, argv=["--columns", "case_id=Crime Ref"])
    _xlsx(base, out / "no_such_sheet.xlsx")
    cases.append(Case("no_such_sheet.xlsx", "refuse", rule="sheet_not_found", where="Summary",
                      opts={"sheet": "Summary"}, argv=["--sheet", "Summary"]))
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.Table.from_pandas(base, preserve_index=False)
    pq.write_table(t.append_column("tags", pa.array([[1, 2]] * N)), out / "list_column.parquet")
    cases.append(Case("list_column.parquet", "refuse", rule="nested_column", where="tags"))
    ts = pa.array([pd.Timestamp(v).to_pydatetime() for v in base["timestamp"]], pa.timestamp("us"))
    far = ts.to_pylist()
    far[7] = far[7].replace(year=3000)
    pq.write_table(t.set_column(t.schema.get_field_index("timestamp"), "timestamp", pa.array(far, pa.timestamp("us"))),
                   out / "year_3000.parquet")
    cases.append(Case("year_3000.parquet", "refuse", rule="timestamp_out_of_range", where="row 8"))
    line = "C001,Kent,reported,2021-01-04,,,,,standard,ex_partner\n" * 200_000
    member = gzip.compress(line.encode(), compresslevel=9)
    with open(out / "bomb.csv.gz", "wb") as fh:
        fh.write(gzip.compress(_csv(base.iloc[:0]).encode()))
        for _ in range(50):                     # 50 members x 10.4 MB = 520 MB of text in about 1 MB
            fh.write(member)
    cases.append(Case("bomb.csv.gz", "refuse", rule="too_large", where="fold"))
    ok_small_limit = Case("row_limit.csv", "refuse", rule="too_many_rows", where="max_rows", opts={"max_rows": 50},
                          cli_exit=0)
    w("row_limit.csv", text, ok_small_limit)
    cases[-1].n_rows, cases[-1].n_cases = N, C
    w("byte_limit.csv", text, Case("byte_limit.csv", "refuse", rule="too_large", where="max_bytes",
                                   opts={"max_bytes": 1000}, cli_exit=0, n_rows=N, n_cases=C))
    for col in ["DateOfBirth", "D.O.B.", "Postal Code", "zipcode", "telephone_number", "Mobile No",
                "suspect_surname", "NHS No", "home_addr", "Birthday", "NINO", "victim_name"]:
        safe = col.replace(".", "").replace(" ", "_").lower()
        refused(f"ident_name_{safe}.csv", _csv(base.assign(**{col: "x"})), "identifier_column", where=col)
    secrets = {
        "postcode": ("notes", "Lives near SW1A 1AA", "UK postcodes"),
        "email": ("notes", "wrote to jane.doe@example.com", "e-mail"),
        "phone": ("notes", "called from 07700 900123", "UK phone numbers"),
        "nhs": ("notes", "NHS 943 476 5919 on file", "NHS"),
        "nino": ("notes", "NI JK 12 34 56 C", "National Insurance"),
        "dob_text": ("notes", "victim DOB 14/02/1987", "dates of birth"),
        "name_text": ("notes", "statement from Sarah Jones", "personal names"),
        "address": ("notes", "seen at 12 Acacia Avenue", "street addresses"),
        "victim_names": ("victim", None, "personal names"),
        "dob_column": ("dt1", None, "dates of birth"),
    }
    for key, (col, value, label) in secrets.items():
        if key == "victim_names":
            vals = np.array(["Jane Doe", "Mary Smith", "Peter Brown"], dtype=object)[np.arange(N) % 3]
            secret = ("Jane Doe", "Mary Smith")
        elif key == "dob_column":
            vals = (pd.Timestamp("1980-01-01") + pd.to_timedelta(np.arange(N) * 97, unit="D")).strftime("%Y-%m-%d")
            secret = (vals[0],)
        else:
            vals = np.where(np.arange(N) == 6, value, "routine visit")
            secret = (value,)
        refused(f"ident_values_{key}.csv", _csv(base.assign(**{col: vals})), "identifier_values",
                where=f"column '{col}': {label}", secret=secret)

    # ---------------------------------------------------------------- read, but a rule is broken
    broken("dayfirst_no_option.csv", _csv(dmy), "day_first_date", where="first lines: 2, 3, 4, 5, 6", n_cases=0)
    mixed = _set(base, "C004", "recorded", "timestamp", "05/02/2021")
    broken("dayfirst_one_row.csv", _csv(mixed), "day_first_date", where=f"first lines: {_line_of(base, 'C004', 'recorded')}")
    broken("partial_month.csv", _csv(_set(base, "C003", "reported", "timestamp", "2021-01")), "partial_date",
           where=f"first lines: {_line_of(base, 'C003', 'reported')}")
    broken("partial_year.csv", _csv(_set(base, "C003", "recorded", "timestamp", "2021")), "partial_date",
           where=f"first lines: {_line_of(base, 'C003', 'recorded')}")
    old = base.copy()
    m2 = old["case_id"] == "C002"
    old.loc[m2, "timestamp"] = (pd.to_datetime(old.loc[m2, "timestamp"]) - pd.DateOffset(years=116)).dt.strftime("%Y-%m-%d")
    broken("year_1905.csv", _csv(old), "before_offences_in_force", where=f"first lines: {_line_of(base, 'C002', 'reported')}")
    early = _set(base, "C006", "reported", "timestamp", "2003-06-01")
    broken("year_2003.csv", _csv(early), "before_offences_in_force", where=f"first lines: {_line_of(base, 'C006', 'reported')}")
    broken("future.csv", _csv(_set(base, "C030", "recorded", "timestamp", "2031-01-01")), "future_timestamp",
           where=f"first lines: {_line_of(base, 'C030', 'recorded')}")
    # C001 (i=0): outcome 18; add a charge
    contra1 = pd.concat([base, pd.DataFrame([{"case_id": "C001", "force": "Kent", "event": "charged",
                                              "timestamp": "2021-03-01", "offence": "stalking_s2a"}])], ignore_index=True)
    broken("no_suspect_then_charged.csv", _csv(contra1), "contradictory_journey", where="C001")
    # C003 (i=2): charged, heard, acquitted (i even) -> add a sentence
    contra2 = pd.concat([base, pd.DataFrame([{"case_id": "C003", "force": "Metropolitan Police", "event": "sentenced",
                                              "timestamp": "2021-09-01"}])], ignore_index=True)
    broken("acquitted_then_sentenced.csv", _csv(contra2), "contradictory_journey", where="C003")
    # C015 (i=14): charged then discontinued -> add a hearing and a conviction
    c15 = base[base["case_id"] == "C015"]
    t15 = pd.Timestamp(c15["timestamp"].iloc[0])
    contra3 = pd.concat([base, pd.DataFrame([
        {"case_id": "C015", "force": c15["force"].iloc[0], "event": "first_hearing", "timestamp": f"{t15 + pd.Timedelta(days=95):%Y-%m-%d}"},
        {"case_id": "C015", "force": c15["force"].iloc[0], "event": "court_outcome", "timestamp": f"{t15 + pd.Timedelta(days=120):%Y-%m-%d}",
         "result": "convicted_stalking"}])], ignore_index=True)
    broken("discontinued_and_convicted.csv", _csv(contra3), "contradictory_journey", where="C015")
    nd = base.copy()
    nd.loc[(nd["case_id"] == "C012") & (nd["event"] != "reported"), "case_id"] = "C0012"
    broken("leading_zero_ids.csv", _csv(nd.assign(case_id=nd["case_id"].str.replace("C", "", regex=False))),
           "near_duplicate_id", where="012", n_cases=C - 1)
    nd2 = base.copy()
    nd2.loc[(nd2["case_id"] == "C013") & (nd2["event"] == "recorded"), "case_id"] = "c013"
    broken("case_differs_ids.csv", _csv(nd2), "near_duplicate_id", where="C013")
    nd3 = base.copy()
    nd3.loc[(nd3["case_id"] == "C014") & (nd3["event"] == "recorded"), "case_id"] = "C 014"
    broken("space_in_ids.csv", _csv(nd3), "near_duplicate_id", where="C014")
    broken("unknown_event.csv", _csv(_set(base, "C008", "recorded", "event", "teleported")), "unknown_event",
           where=f"first lines: {_line_of(base, 'C008', 'recorded')}")
    broken("unknown_force.csv", _csv(_set(base, "C008", "reported", "force", "Gotham")), "unknown_force",
           where=f"first lines: {_line_of(base, 'C008', 'reported')}")
    broken("unparseable_report_date.csv", _csv(_set(base, "C009", "reported", "timestamp", "last Tuesday")),
           "unparseable_timestamp", where=f"first lines: {_line_of(base, 'C009', 'reported')}")
    broken("missing_case_id.csv", _csv(_set(base, "C010", "recorded", "case_id", None)), "missing_value",
           where=f"first lines: {_line_of(base, 'C010', 'recorded')}", n_cases=C)
    serial = base.copy()
    serial.loc[serial["case_id"] == "C011", "timestamp"] = "44197"
    broken("excel_serial_dates.csv", _csv(serial), "unparseable_timestamp", where="C011")
    broken("absurd_outcome_code.csv", _csv(_set(base, "C002", "police_outcome", "outcome_code", "1e308")),
           "unknown_outcome_code", where=f"first lines: {_line_of(base, 'C002', 'police_outcome')}")
    broken("duplicate_rows.csv", _csv(pd.concat([base, base.iloc[[3]]], ignore_index=True)), "duplicate_event",
           where=f"first lines: {N + 2}")
    _xlsx(_set(base, "C005", "reported", "timestamp", "2021-01"), out / "partial.xlsx")
    cases.append(Case("partial.xlsx", "rule", rule="partial_date", where=f"first lines: {_line_of(base, 'C005', 'reported')}",
                      n_cases=C - 1))
    pbad = _set(base, "C005", "reported", "event", "reproted")
    pbad.to_parquet(out / "unknown_event.parquet", index=False)
    cases.append(Case("unknown_event.parquet", "rule", rule="unknown_event",
                      where=f"first rows: {_line_of(base, 'C005', 'reported') - 1}", n_cases=C - 1))
    return cases


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-inputs")
    made = make_all(target)
    print(f"{len(made)} hostile inputs in {target}")
