# %% [markdown]
# # 09 · The national picture from public data
#
# Notebooks 02–08 work on case-level journeys, which are not public (the embedded dataset is synthetic).
# This notebook uses only what **is** public, read straight from the files as the Home Office and others
# publish them: the Home Office **outcomes open data** (outcome type by force, quarter and offence code),
# **police recorded crime** by force area, **court outcomes** by force area and **FOI returns** on Stalking
# Protection Orders. Every rate is shown with its numerator and denominator; shares *per offence recorded*
# (the basis of the published "5% charged") and *per outcome assigned* are kept apart.
#
# Stalking (offence code 8Q) alone unless stated; the 43 territorial forces (British Transport Police
# excluded). Files are looked for in `open_data_dir` (default `../shared/open-data/` beside the project);
# sections whose file is absent are skipped with a note. Get the published files with `attrition fetch`.

# %%
# parameters
data_path = None  # not used here: public data only
as_of = None  # not used here
forces = None  # list of force names to keep, None for the 43 territorial forces
forces_path = None  # not used here
seed = 20220331  # random seed of any resampling
figures_dir = None  # where report figures are written, None for figures/
columns = None  # not used here
dayfirst = None  # not used here
open_data_dir = None  # directory of public data files, None for ../shared/open-data beside the project

# %%
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from attrition import config, public
from attrition.disclosure import format_table, publish_table, suppress_small_counts
from attrition.exceptions import DataQualityWarning, DisclosureWarning
from attrition.figures import publish_figure
from attrition.plotting import use_style
from attrition.pooling import caterpillar_plot
from attrition.report import skip, skip_notebook
from attrition.sources.open_data import read_court_outcomes, read_foi_returns, read_outcomes, read_recorded_crime

use_style()
pd.set_option("display.width", 160)
source_dir = config.PROJECT_ROOT.parent / "shared" / "open-data" if open_data_dir is None else open_data_dir
out_dir = config.FIGURES_DIR if figures_dir is None else figures_dir
scope = "territorial" if forces is None else forces  # data_path, as_of, seed and forces_path: not used here
if not Path(source_dir).is_dir() or not public.discover_files(source_dir)["outcomes"]:
    skip_notebook("The national picture from public data (notebook 09)",
                  f"no Home Office outcomes open data in {source_dir}",
                  "get it with `attrition fetch outcomes --cache DIR`, then `attrition report --open-data DIR`")
files = public.discover_files(source_dir)
for kind, paths in files.items():
    print(f"{kind:9s}: {', '.join(p.name for p in paths) if paths else 'not given'}")
print()
print(public.ATTRIBUTION)

# %% [markdown]
# ## Reading the outcomes open data
# The reader keeps every outcome type on its own (14 and 16 apart) with the Home Office outcome group
# alongside, and accounts for every row of the file. Negative counts (revisions) are kept as published.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", DataQualityWarning)
    outcomes, report = read_outcomes(files["outcomes"], forces=scope, return_report=True)
    outcomes3 = read_outcomes(files["outcomes"], offence_codes=("8Q", "8L", "8R"), forces=scope)
print(report.load)
for w in caught[:1]:
    print("note:", str(w.message).split(":")[0])
years = sorted(outcomes["financial_year"].unique())
latest = years[-1]
print(f"financial years: {', '.join(years)}; scope: {public.scope_label(outcomes['force'])}")
recorded = read_recorded_crime(files["recorded"], forces=scope) if files["recorded"] else None
courts = read_court_outcomes(files["courts"], forces=scope) if files["courts"] else None
foi = read_foi_returns(files["foi"], forces=scope) if files["foi"] else None
source_note = (f"Source: Home Office outcomes open data {', '.join(years)} (stalking, 8Q; "
               f"{public.scope_label(outcomes['force'])}). Crown copyright, Open Government Licence v3.0.")

# %% [markdown]
# ## Headline figures, with their denominators
# Per offence recorded and per outcome assigned. Outcomes are those assigned *so far* to the offences
# recorded in the year, so the shares move as open investigations close (type 0, "not yet assigned").

# %%
heads = public.headlines(outcomes, recorded, courts, year=latest)
shown = heads[["measure", "numerator", "denominator", "value", "lower 95%", "upper 95%", "denominator_source"]]
print(shown.to_string(index=False, formatters={"numerator": "{:,.0f}".format, "denominator": "{:,.0f}".format,
                                               "value": "{:.3f}".format, "lower 95%": "{:.3f}".format,
                                               "upper 95%": "{:.3f}".format}))

# %% [markdown]
# Published figures for comparison (year ending March 2022, `data/published/published_figures.csv`): 5%
# of stalking reports charged (5,948 of 118,411) and a quarter closed for evidential difficulties with the
# victim supporting action. The same measures from the 2021/22 files come from
# `attrition headlines --outcomes FILE --recorded FILE --year 2021/22`.

# %% [markdown]
# ## Charge and outcome shares by force
# Counts from 1 to 9 are withheld (with secondary suppression) before a force table is shown.

# %%
counts = public.outcome_counts(outcomes, ("financial_year", "force"))
by_force = counts.loc[counts["financial_year"] == latest, ["force", "recorded", "assigned", "t1", "t15", "t16"]]
by_force = by_force.rename(columns={"t1": "charged", "t15": "type_15", "t16": "type_16"}).reset_index(drop=True)
by_force["charged_per_recorded"] = by_force["charged"] / by_force["recorded"]
by_force["type_15_per_recorded"] = by_force["type_15"] / by_force["recorded"]
by_force["type_16_per_outcome"] = by_force["type_16"] / by_force["assigned"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DisclosureWarning)
    safe = suppress_small_counts(
        by_force, ["recorded", "assigned", "charged", "type_15", "type_16"],
        derived={"charged_per_recorded": ["charged", "recorded"], "type_15_per_recorded": ["type_15", "recorded"],
                 "type_16_per_outcome": ["type_16", "assigned"]})
print(f"{latest}, {len(safe)} forces; {int(safe['suppressed'].sum())} with a withheld cell")
print(format_table(safe).to_string(index=False))

# %% [markdown]
# ### Fig11 · Charged per offence recorded, by force (partial pooling)
# Each force's share is shrunk towards the national share by an empirical-Bayes beta-binomial
# (`attrition.pooling`), so small forces are not ranked on noise. Forces with a withheld count are not drawn.

# %%
pooled = public.compare_forces(outcomes, "charged_per_recorded", recorded=recorded, year=latest)
drawn = safe.loc[safe[["recorded", "charged"]].notna().all(axis=1), "force"]
pooled_drawn = pooled.loc[pooled.index.isin(set(drawn))]
print(f"national {pooled['national'].iloc[0]:.3f}; credibly higher: {(pooled['differs'] == 'higher').sum()}, "
      f"lower: {(pooled['differs'] == 'lower').sum()} of {len(pooled)} forces")
ax = caterpillar_plot(pooled_drawn, national=float(pooled["national"].iloc[0]), xlabel="Charged per offence recorded",
                      title=f"Stalking offences charged/summonsed, {latest}, by force")
public.add_source_note(ax.figure, source_note)
publish_figure(ax.figure, "Fig11_open-data-force-charge-rates", out_dir=out_dir, suppressed=safe)

# %% [markdown]
# ## Trends from 2014/15 onwards
# Year-on-year changes with Newcombe's interval for a difference of proportions (built on the Wilson
# intervals of each year). Needs more than one year of outcomes in `open_data_dir`.

# %%
if len(years) > 1:
    trend = public.headlines(outcomes, recorded)
    trend = trend[trend["measure"].isin(["charged_per_recorded", "evidential_victim_supports_per_recorded"])]
    print(trend.pivot(index="year", columns="measure", values="value").round(3).to_string())
    print(public.year_on_year(outcomes, "charged_per_recorded", recorded=recorded).round(4).to_string(index=False))
    fy = public.headlines(outcomes, recorded, by="force")
    fy = fy.loc[fy["measure"] == "charged_per_recorded", ["year", "force", "numerator", "denominator", "value"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        fy_safe = suppress_small_counts(fy.reset_index(drop=True), ["numerator", "denominator"], by=["year"],
                                        derived={"value": ["numerator", "denominator"]})
    print("\ncharged per offence recorded, by force and year ([c]: withheld)")
    print(format_table(fy_safe).pivot(index="force", columns="year", values="value").to_string())
else:
    skip("Trends by year", f"only {latest} is in {Path(source_dir).name}/", "add more years (attrition fetch outcomes)")

# %% [markdown]
# ## The public-data funnel
# Recorded → outcome assigned → charged/summonsed are offences followed from the year they were recorded;
# proceeded against → convicted (court outcomes) count *defendants* in the *court year*. They are set
# side by side, not chained: `per_previous` is blank where the unit changes.

# %%
funnel = public.public_funnel(outcomes, recorded, courts)
f_latest = funnel[funnel["financial_year"] == latest]
print(f_latest.drop(columns=["financial_year"]).to_string(index=False, float_format=lambda v: f"{v:.3f}",
                                                          formatters={"count": "{:,.0f}".format}))
if courts is None:
    print("\nnote: no court outcomes file in open_data_dir; the proceeded and convicted steps are skipped")
if recorded is None:
    print("note: no police recorded crime file; offences recorded are the sum of the outcome counts")

# %% [markdown]
# Where offences leave after recording: every outcome type other than a charge, on its own.

# %%
exits = public.funnel_exits(outcomes)
e_latest = exits[(exits["financial_year"] == latest) & (exits["count"] != 0)]
# published official statistics, but our outputs follow one rule: counts of 1-9 (and what reveals them) as [c]
print(publish_table(e_latest.drop(columns=["financial_year"]), ["count"], by="step", index=False, decimals=4,
                    derived={"per_recorded": ["count"], "per_outcome": ["count"]}))

# %% [markdown]
# ### Fig12 · The public-data funnel

# %%
ax = public.plot_public_funnel(f_latest, e_latest)
ax.set_title(f"Stalking offences recorded in {latest}: outcomes so far")
public.add_source_note(ax.figure, source_note)
publish_figure(ax.figure, "Fig12_open-data-funnel", out_dir=out_dir)

# %% [markdown]
# ## Stalking beside harassment and malicious communications
# Stalking is often recorded as harassment (8L) or malicious communications (8R). The three codes side by
# side, nationally and by force; `share_of_three` is each code's share of the offences recorded under the
# three (the only place they are added, and said so).

# %%
comp = public.offence_comparison(outcomes3, by=("financial_year",))
print(comp.to_string(index=False, float_format=lambda v: f"{v:.3f}",
                     formatters={"recorded": "{:,.0f}".format, "charged": "{:,.0f}".format}))
comp_force = public.offence_comparison(outcomes3, by=("financial_year", "force"))
stalk = comp_force[(comp_force["financial_year"] == latest) & (comp_force["offence_code"] == "8Q")]
stalk = stalk[["force", "recorded", "charged", "share_of_three"]].reset_index(drop=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DisclosureWarning)
    stalk_safe = suppress_small_counts(stalk, ["recorded", "charged"], derived={"share_of_three": ["recorded"]})
order = stalk_safe.dropna(subset=["share_of_three"]).sort_values("share_of_three", kind="mergesort")
print("\nStalking as a share of 8Q + 8L + 8R offences recorded: the five lowest and highest forces "
      f"(of {len(order)} without a withheld cell)")
print(format_table(pd.concat([order.head(5), order.tail(5)])).to_string(index=False))

# %% [markdown]
# ## SPO applications per 1,000 stalking offences (FOI returns)
# Bands as in the 2024 FOI study (10 or fewer, 11 to 30, more than 30 applications); a force that did not
# answer is shown as such, never as zero.

# %%
if foi is not None:
    spo = public.spo_rates(foi, recorded if recorded is not None else outcomes)
    print(spo.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(spo.groupby("year")["band"].value_counts().to_string())
else:
    skip("SPO applications per 1,000 stalking offences", "no FOI returns file in open_data_dir",
         "add a table of force, year, SPO applications ... (attrition.sources.open_data.read_foi_returns)")

# %% [markdown]
# ## What is missing
# Gaps the reader found (forces, quarters or outcome types absent from a year, bodies outside the scope),
# and the tables not given.

# %%
print(report.notes.to_string(index=False) if len(report.notes) else "no gaps in the outcomes file")
for kind in ("recorded", "courts", "foi"):
    if not files[kind]:
        print(f"not given: {kind} (put the file in open_data_dir; see `attrition fetch --list` for published files)")
print()
print(public.ATTRIBUTION)
