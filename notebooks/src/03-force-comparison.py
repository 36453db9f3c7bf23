# %% [markdown]
# # 03 · How the 43 forces compare
#
# A force with 40 stalking reports a year cannot be ranked on its raw charge rate: most of its difference
# from the national rate is noise. `FunnelFitter(by="force")` fits every force with **partial pooling**
# (an empirical-Bayes beta-binomial per stage: each force's rate is shrunk towards the national rate in
# proportion to how little data it has), so only differences that survive the noise are flagged.
#
# Then: Stalking Protection Order applications per force against the bands of the 2024 FOI study, the
# year-on-year change in reports, and national totals when only some forces answer.

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

from attrition import trends
from attrition.data import load_dataset
from attrition.disclosure import publish_table
from attrition.exceptions import AttritionError
from attrition.figures import set_provenance, show_figure
from attrition.funnel import FunnelFitter
from attrition.plotting import use_style
from attrition.report import skip

use_style()
pd.set_option("display.width", 160)
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
print(data)

# %% [markdown]
# ## Charging after a suspect is identified, force by force
# The stage "suspect identified" converts when the suspect is charged. Each force's pooled estimate (dot)
# and 95% credible interval, its raw rate (faint), and the national rate (line).

# %%
by_force = FunnelFitter(alpha=0.05).fit(data.cases, by="force")
show_figure(by_force.caterpillar_plot(stage="suspect_identified").figure)

# %% [markdown]
# Forces whose charge rate differs credibly from the national rate (the credible interval excludes it):

# %%
diff = by_force.credible_differences("suspect_identified")
print(diff.round(4).to_string() if len(diff) else "none")

# %% [markdown]
# ## End to end: convictions for stalking per 10,000 reports, by force
# The five forces with the lowest and the highest pooled end-to-end probability.

# %%
e2e = (by_force.end_to_end_.sort_values("estimate")[["reports", "reached", "estimate", "lower 95%", "upper 95%"]]
       .assign(per_10000=lambda d: (1e4 * d["estimate"]).round(0).astype("Int64")))
shown = pd.concat([e2e.head(5), e2e.tail(5)]) if len(e2e) > 10 else e2e
print(publish_table(shown, ["reports", "reached"], decimals=4))

# %% [markdown]
# If every force charged (after identifying a suspect) at the rate of the best quartile of forces, how many
# more convictions for stalking per 10,000 reports would each force see? The ten largest gains:

# %%
cf = by_force.counterfactual("suspect_identified", quantile=0.75)
print(cf.sort_values("extra", ascending=False).head(10).round(2).to_string())

# %% [markdown]
# ## Stalking Protection Orders: how many, and where
# SPO applications (interim and full) per force in the last financial year, in the bands the FOI study
# published: 12 responding forces applied for 10 or fewer, 8 for 11 to 30 and 3 for more than 30.

# %%
apps = trends.spo_applications(data.events)
last_year = data.cases["financial_year"].max()  # last financial year of reports (later events are a part year)
latest = apps[apps["financial_year"] == last_year]
if data.forces is not None and "foi_spo_reported" in data.forces:
    reporting = data.forces.loc[(data.forces["financial_year"] == last_year) & data.forces["foi_spo_reported"], "force"]
    latest = latest[latest["force"].isin(reporting)]
if not data.events["event"].isin(["spo_interim_applied", "spo_full_applied"]).any():
    skip("SPO applications by force", "the data hold no SPO application events",
         "include spo_interim_applied / spo_full_applied events in the extract (docs/data-standard.md)")
else:
    print(f"{last_year}: forces by band of SPO applications")
    print(latest["band"].value_counts(sort=False).to_string())

# %% [markdown]
# ## Reports year on year
# Change in the number of reports between the last two financial years, per force (exact Poisson interval
# of the rate ratio). The published FOI finding was that 67% of forces whose Police and Crime Commissioner
# had committed to increasing reports recorded a decrease; the same summary for all forces here:

# %%
years = sorted(data.cases["financial_year"].unique())
if len(years) < 2:
    skip("Reports year on year", f"the data cover one financial year ({years[0]})",
         "use an extract with at least two financial years of reports")
else:
    change = trends.report_change(data.cases, from_year=years[-2], to_year=years[-1])
    print(change.summary.to_string())

# %% [markdown]
# ## When some forces do not answer
# Only 27 of the 43 forces answered the FOI request. National SPO applications (per 1,000 reports) when
# only the answering forces are counted, when the missing forces are imputed from a negative-binomial model
# of the answering forces (by force size), and under missing-not-at-random scenarios.

# %%
if data.forces is None or not {"foi_responded", "spo_applications"} <= set(data.forces.columns):
    skip("National SPO applications with missing forces imputed", "no force-year table with `foi_responded` and "
         "`spo_applications`", "pass a force-year table with those columns (--forces PATH; docs/data-standard.md)")
else:
    fy = data.forces[data.forces["financial_year"] == last_year].copy()
    fy["reports"] = fy["force"].map(data.cases[data.cases["financial_year"] == last_year].groupby("force", observed=True).size())
    try:
        imputed = trends.impute_missing_forces(fy, value="spo_applications", exposure="reports",
                                               observed="foi_responded", per=1000, random_state=seed)
        print(imputed.national.drop(columns=["description"], errors="ignore").round(1).to_string(index=False))
    except AttritionError as err:
        skip("National SPO applications with missing forces imputed", str(err).splitlines()[0])
