# %% [markdown]
# # 01 · The victim-journey data standard
#
# No agency in England and Wales can follow a stalking victim from report to conviction, so nobody can say
# where and why cases fall out. `attrition` defines the record that would make it possible: an **event log**
# with one row per thing that happened in a case (reported, recorded, suspect identified, SPO applied for,
# charged, heard, convicted, ...), written once in `attrition/standard/events.schema.json` and documented
# field by field in `docs/data-standard.md`.
#
# This notebook validates a dataset against the standard, derives the **case table** (one row per case) and
# shows what happens to bad records: they are never dropped silently.
#
# By default it runs on the embedded **synthetic national dataset** (real case-level data are not public);
# set `data_path` to a real extract in the standard format to run it on that.

# %%
# parameters
data_path = None  # event log in the standard (csv, parquet, xlsx), None for the embedded synthetic data
as_of = None  # extraction date YYYY-MM-DD, None for the data's own
forces = None  # list of force names to keep, None for all
forces_path = None  # force-year table (dedicated officers, population), None for none
seed = 20220331  # random seed of the synthetic data and of any resampling
figures_dir = None  # where report figures are written, None for figures/
columns = None  # column mapping of the event log, standard name to name in the file, None for standard names
dayfirst = None  # True when the event log's dates are dd/mm/yyyy, None for ISO dates

# %%
import pandas as pd

from attrition import standard
from attrition.data import load_dataset, validate_events
from attrition.disclosure import publish_table
from attrition.report import skip
from attrition.figures import set_provenance
from attrition.plotting import use_style

use_style()
pd.set_option("display.width", 120)
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
print(data)
for note in data.notes:
    print("note:", note)

# %% [markdown]
# ## The event vocabulary
# Every row of the event log is one of these events. Same-day events are ordered as listed; events marked
# "once" can occur at most once per case; some need a detail column (e.g. `charged` needs the `offence`).

# %%
vocab = pd.DataFrame({
    "once": [e in standard.ONCE_EVENTS for e in standard.EVENTS],
    "needs": [", ".join(standard.REQUIRED_DETAILS[e]) or "-" for e in standard.EVENTS],
}, index=pd.Index(standard.EVENTS, name="event"))
print(vocab.to_string())

# %% [markdown]
# ## One journey
# The first case that reached court, as it appears in the event log (detail columns that are empty for every
# event of this case are hidden). A single journey is record-level data, so it is shown for the synthetic
# data only.

# %%
court_cases = data.cases.loc[data.cases["stage_index"] >= 4, "case_id"]
if not data.synthetic:
    skip("One journey", "a single case's journey is record-level data and is never printed from real data")
elif court_cases.empty:
    skip("One journey", "no case reached court in these data")
else:
    journey = data.events[data.events["case_id"] == court_cases.iloc[0]].dropna(axis=1, how="all")
    print(journey.assign(timestamp=journey["timestamp"].dt.strftime("%Y-%m-%d")).to_string(index=False))

# %% [markdown]
# ## Validating the dataset
# `validate_events` checks every rule of the standard on every row at once: required values, vocabularies,
# Home Office outcome codes, timestamps (parseable, not in the future), duplicates, and rules across a case's
# rows (a report first; no conviction before a charge; no sentence before a verdict; ...). For a file, this is
# the validation of the file as read: every case that broke a rule was set aside whole, and is counted here by
# the rule it broke first (counts of 1 to 9 withheld as `[c]`; case ids are not shown).

# %%
report = data.report if data.report is not None else validate_events(data.events, as_of=data.as_of)
print(f"rows read: {report.n_rows_in:,}; rows kept: {len(report.valid):,}; "
      f"rows set aside: {len(report.excluded):,}")
if report.ok:
    print("every row passes every rule of the standard")
else:
    set_aside = (report.excluded.groupby("reason").agg(rows=("reason", "size"), cases=("case_id", "nunique"))
                 .rename_axis("first rule broken"))
    print(publish_table(set_aside, ["rows", "cases"]))
    print("\nthe rules broken (a case can break several):")
    print(publish_table(report.problems.set_index(["rule", "column"])[["n_rows", "n_cases"]], ["n_rows", "n_cases"]))

# %% [markdown]
# ## What happens to bad records
# We break three journeys in three ways: an unknown offence code, a conviction dated before the charge, and
# a duplicated report. Each broken case is set aside **whole** (a partial journey would bias every model)
# and listed with its reason; the other cases are kept. `load_events(path)` raises with the same message
# unless `errors="exclude"` is asked for. (Shown on synthetic journeys: it prints case ids.)

# %%
if data.synthetic and len(court_cases) >= 3:
    ids = court_cases.iloc[:3].tolist()
    bad = data.events[data.events["case_id"].isin(ids)].copy()
    bad["offence"] = bad["offence"].astype(object)
    bad.loc[(bad["case_id"] == ids[0]) & (bad["event"] == "recorded"), "offence"] = "stalking s5"
    first_day = bad.loc[bad["case_id"] == ids[1], "timestamp"].min()
    bad.loc[(bad["case_id"] == ids[1]) & (bad["event"] == "court_outcome"), "timestamp"] = first_day
    bad = pd.concat([bad, bad[(bad["case_id"] == ids[2]) & (bad["event"] == "reported")]])
    checked = validate_events(bad, as_of=data.as_of)
    print(checked.problems[["rule", "n_rows", "example_case_ids", "message"]].to_string(index=False))
    print(f"\nrows in: {checked.n_rows_in}, valid: {len(checked.valid)}, excluded: {len(checked.excluded)}")
    print(checked.excluded.groupby("reason").size().to_string())
else:
    skip("The bad-records demonstration", "it breaks and prints synthetic journeys, so it runs on the synthetic "
         "data only", "see the validation summary above for this file")

# %% [markdown]
# ## The case table
# `to_cases` turns the event log into one row per case: the stage reached on the nested funnel
# (reported → recorded as stalking → suspect identified → charged → prosecuted → convicted of stalking), where
# and why the case left, days from report to each event, SPO timeliness flags and breaches. Cases with no
# closing outcome by the extraction date are **open** (right-censored), not losses.

# %%
cases = data.cases
print(f"{len(cases):,} cases, {len(cases.columns)} columns\n")
by_stage = cases.groupby(["stage_reached", "status"], observed=False).size().unstack(fill_value=0)
print(publish_table(by_stage, list(by_stage.columns)))

# %%
exits = cases["exit_reason"].value_counts().rename("cases").to_frame().assign(share=lambda d: d["cases"] / len(cases))
print(publish_table(exits, ["cases"], decimals=3))

# %%
spo = cases[["spo_interim_applied", "spo_interim_timely", "spo_full_applied", "spo_full_timely",
             "spo_granted"]].sum().rename("cases").to_frame()
spo.loc["2+ order breaches", "cases"] = int((cases["n_breaches"] >= 2).sum())
print(publish_table(spo.astype({"cases": int}), ["cases"]))
