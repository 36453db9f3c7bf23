"""Helpers for the open-data tests: the shared real file, a minimal ODS writer, tables shaped like the
2021/22 publication."""
from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from attrition import config

REAL = config.PROJECT_ROOT.parent / "shared" / "open-data" / "prc-outcomes-open-data-2018-19.csv.gz"
COUNT_REC = "Force outcomes for offences recorded in quarter"
COUNT_CLO = "Force outcomes recorded in quarter"
NEW_HEADER = ["Financial Year", "Financial Quarter", "Force Name", "Offence Description", "Offence Group",
              "Offence Subgroup", "Offence Code", "Outcome Description", "Outcome Group", "Outcome Type",
              "Outcomes for offences that were recorded in the quarter [note 3]",
              "Outcomes for investigations closed in the quarter [note 4]"]


def independent_read(path=REAL) -> pd.DataFrame:
    """The real file read with plain pandas, nothing from attrition."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def to_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def write_ods(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A minimal OpenDocument spreadsheet (what LibreOffice writes, without styles): numbers, ISO dates, text."""
    def cell(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "<table:table-cell/>"
        if isinstance(v, pd.Timestamp):
            return (f'<table:table-cell office:value-type="date" office:date-value="{v:%Y-%m-%d}">'
                    f"<text:p>{v:%d/%m/%Y}</text:p></table:table-cell>")
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return (f'<table:table-cell office:value-type="float" office:value="{int(v)}">'
                    f"<text:p>{int(v)}</text:p></table:table-cell>")
        if isinstance(v, (float, np.floating)):
            return (f'<table:table-cell office:value-type="float" office:value="{v}">'
                    f"<text:p>{v}</text:p></table:table-cell>")
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'

    body = []
    for name, rows in sheets.items():
        body.append(f'<table:table table:name="{escape(name)}">')
        body += ["<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows]
        body.append("</table:table>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet>" + "".join(body) + "</office:spreadsheet></office:body>"
        "</office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path


def frame_rows(df: pd.DataFrame, numeric=()) -> list[list]:
    """Header + rows for :func:`write_ods`, numeric columns as numbers where they parse."""
    rows = [list(df.columns)]
    vals = df.astype(object).copy()
    for c in numeric:
        num = to_number(df[c])
        vals[c] = [float(n) if not np.isnan(n) else s for n, s in zip(num, df[c])]
    rows += vals.values.tolist()
    return rows


# ------------------------------------------------------------------------------------------------
# tables shaped like the 2021/22 publication
# ------------------------------------------------------------------------------------------------
RECORDED_2122 = 118_411  # stalking offences recorded, YE March 2022 (published_figures.csv)
CHARGED_2122 = 5_948     # of which charged/summonsed
TYPE15_2122 = 29_603     # "a quarter": round(0.25 * 118,411)
TYPE16_2122 = 41_000
TYPE0_2122 = 9_000
TYPE18_2122 = 6_000


def shaped_2122(random_state=2122):
    """Outcomes and recorded-crime tables with the 2021/22 national totals, spread over 43 forces x 4
    quarters x 21 outcome types by a seeded multinomial (so every force and quarter differs).

    Returns
    -------
    outcomes : pandas.DataFrame in the current published layout (``NEW_HEADER``), stalking (8Q) plus
        harassment (8L) rows, and British Transport Police rows (which the default excludes);
    recorded : pandas.DataFrame ``Financial Year, Financial Quarter, Force Name, Offence Description,
        Offence Group, Offence Subgroup, Offence Code, Number of Offences``;
    truth : dict of the national 8Q totals over the 43 territorial forces.
    """
    from attrition.sources.forces import territorial_forces
    from attrition.sources.open_data.outcomes import OUTCOME_GROUPS

    rng = np.random.default_rng(random_state)
    forces = list(territorial_forces())
    types = [k for k in range(23) if k != 19]
    fixed = {1: CHARGED_2122, 15: TYPE15_2122, 16: TYPE16_2122, 0: TYPE0_2122, 18: TYPE18_2122}
    rest = RECORDED_2122 - sum(fixed.values())
    others = [k for k in types if k not in fixed]
    share = rng.dirichlet(np.ones(len(others)))
    other_counts = rng.multinomial(rest, share)
    totals = {**fixed, **dict(zip(others, other_counts))}
    cells = []
    weights = rng.dirichlet(np.full(len(forces) * 4, 5.0))
    for k in types:  # 22 outcome types: each national total spread over force x quarter
        counts = rng.multinomial(totals[k], weights).reshape(len(forces), 4)
        for i, f in enumerate(forces):
            for q in range(4):
                cells.append((f, q + 1, "8Q", k, int(counts[i, q])))
    for f in ("British Transport Police",):
        for q in range(4):
            cells += [(f, q + 1, "8Q", 1, 7), (f, q + 1, "8Q", 15, 3)]
    for f in forces[:5]:  # some harassment rows, which must never be added to stalking
        cells += [(f, 1, "8L", 1, 500), (f, 1, "8L", 15, 100)]
    c = pd.DataFrame(cells, columns=["force", "quarter", "code", "type", "n"])
    desc = {"8Q": "Stalking", "8L": "Harassment"}
    outcomes = pd.DataFrame({
        NEW_HEADER[0]: "2021/22", NEW_HEADER[1]: c["quarter"], NEW_HEADER[2]: c["force"],
        NEW_HEADER[3]: c["code"].map(desc), NEW_HEADER[4]: "Violence against the person",
        NEW_HEADER[5]: "Stalking and harassment", NEW_HEADER[6]: c["code"],
        NEW_HEADER[7]: "description", NEW_HEADER[8]: c["type"].map(OUTCOME_GROUPS),
        NEW_HEADER[9]: c["type"], NEW_HEADER[10]: c["n"], NEW_HEADER[11]: c["n"],
    })
    rec = c.groupby(["force", "quarter", "code"], as_index=False)["n"].sum()
    recorded = pd.DataFrame({
        "Financial Year": "2021/22", "Financial Quarter": rec["quarter"], "Force Name": rec["force"],
        "Offence Description": rec["code"].map(desc), "Offence Group": "Violence against the person",
        "Offence Subgroup": "Stalking and harassment", "Offence Code": rec["code"], "Number of Offences": rec["n"],
    })
    terr = c[(c["code"] == "8Q") & (c["force"] != "British Transport Police")]
    truth = {"recorded": int(terr["n"].sum()), "charged": int(terr.loc[terr["type"] == 1, "n"].sum()),
             "t15": int(terr.loc[terr["type"] == 15, "n"].sum()), "t16": int(terr.loc[terr["type"] == 16, "n"].sum()),
             "t0": int(terr.loc[terr["type"] == 0, "n"].sum())}
    return outcomes, recorded, truth
