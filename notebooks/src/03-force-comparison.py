# %% [markdown]
# # 03 · How the forces compare
#
# A force with 40 stalking reports a year cannot be ranked on its raw charge rate: most of its difference
# from the national rate is noise. `FunnelFitter(by="force")` fits every force with **partial pooling**: a
# hierarchical beta-binomial per stage, fitted by full Bayes, so each force's rate borrows strength from
# forces like it (of its size and, when the force-year table records dedicated stalking officers, with the
# same officer status) in proportion to how little data it has, and the intervals carry the uncertainty about
# how much to borrow. On simulated national datasets (`tests/studies/force_coverage.py`) the 95% intervals
# covered each force's true rate at least 93% of the time in every fifth of forces at every stage. Beside it: the funnel
# plot with control limits that inspectorates use, a comparison adjusted for case mix, and where each force
# could stand in a league table.
#
# **What is estimated.** Unless a table says otherwise, a force's *rate* at a stage is the long-run
# probability that a case of that force entering the stage reaches the next one (open cases are censored,
# never counted as losses), for the force's own mix of cases; *pooled* estimates are posterior means with
# 95% credible intervals, *raw* estimates use the force's data alone with 95% confidence intervals.
#
# Then: Stalking Protection Order applications per force against the bands of the 2024 FOI study, the
# year-on-year change in reports (the 43 forces are a census, not a sample), and national totals when only
# some forces answer.

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
import numpy as np
import pandas as pd
from IPython.display import display

from attrition import trends
from attrition.casemix import indirect_standardisation, standardised_funnel
from attrition.config import DISCLOSURE_THRESHOLD
from attrition.data import load_dataset
from attrition.disclosure import publish_table
from attrition.exceptions import AttritionError
from attrition.figures import set_provenance, show_figure
from attrition.funnel import FunnelFitter, fit_force_funnel
from attrition.plotting import use_style
from attrition.report import skip

use_style()
pd.set_option("display.width", 160)
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
print(data)
n_forces = data.cases["force"].nunique()
MIN_FORCES = 3  # pooling, control limits and ranks compare a force with the others: they need several
compare = n_forces >= MIN_FORCES
if not compare:
    skip("Force comparisons (pooled rates, funnel plot, case-mix adjustment, ranks, counterfactual)",
         f"the data hold {n_forces} force(s); comparing forces needs at least {MIN_FORCES}",
         "use an extract with more forces (national data, or several forces' exports together)")

# %% [markdown]
# ## Charging after a suspect is identified, force by force
# **Estimand:** for each force, the probability that a stalking case with an identified suspect is charged
# (any charge), in the long run. Each force's pooled estimate (dot) and 95% credible interval, its raw
# rate (faint cross), and the national rate (line).

# %%
if compare:
    by_force = fit_force_funnel(data.cases, data.forces, alpha=0.05)
    prior = by_force.priors_["suspect_identified"]
    print(f"Pooled towards forces alike in: {by_force.pooled_towards_}; between-force sd of the "
          f"charge rate {prior.sd:.4f}; prior strength {prior.kappa:,.0f} cases "
          f"(95% interval {prior.kappa_interval[0]:,.0f} to {prior.kappa_interval[1]:,.0f})")
    raw = by_force.published_counts("suspect_identified")  # raw rates with a count under 10 are not drawn
    display(show_figure(by_force.caterpillar_plot(stage="suspect_identified",
                                                  withhold=raw.loc[raw["suppressed"], "group"]).figure))
else:
    own = FunnelFitter(alpha=0.05).fit(data.cases, by="force", pool=False).summary.xs("suspect_identified", level="stage")
    print("Each force's own charge rate after a suspect is identified (raw, 95% confidence interval; no pooling):")
    print(publish_table(own[["entered", "converted", "p_convert", "lower 95%", "upper 95%"]], ["entered", "converted"],
                        decimals=3))

# %% [markdown]
# Forces whose pooled charge rate differs credibly from the national rate (the 95% credible interval
# excludes it). Each interval is a statement about one force; across 43 forces a few intervals would
# exclude the national rate by chance alone even if every force charged at it, so a force near the edge
# is worth a look, not a verdict.

# %%
if compare:
    diff = by_force.credible_differences("suspect_identified")
    print(diff.round(4).to_string() if len(diff) else "none")

# %% [markdown]
# ## The funnel plot
# Each force's raw charge rate against the number of cases entering the stage, with the 95% and 99.8%
# control limits around the national rate (Spiegelhalter 2005). Forces differ by more than chance
# (over-dispersion), so the limits add the between-force variance (an additive random effect, estimated
# from winsorised z-scores): a force outside them is unusual even among forces that genuinely differ. A force
# whose count is below the disclosure threshold is not drawn (its position would reveal the count).

# %%
if compare:
    limits = by_force.control_limits("suspect_identified")
    a = limits.attrs
    print(f"Over-dispersion: phi = {a['phi_hat']:.2f} (test p = {a['chi2_p']:.2g}); between-force sd tau = "
          f"{np.sqrt(a['tau2']):.4f}")
    for col in ("outside 95%", "outside 99.8%"):
        out = limits[limits[col] != 0]
        named = [f"{g} ({'above' if v > 0 else 'below'})" for g, v in out[col].items()]
        print(f"{col}: {', '.join(named) or 'none'}")
    display(show_figure(by_force.funnel_plot(stage="suspect_identified", withhold_below=DISCLOSURE_THRESHOLD).figure))

# %% [markdown]
# ## Adjusted for case mix
# A force whose cases are mostly high risk may charge more because high-risk cases are charged more
# everywhere. **Estimand:** the standardised ratio O/E, the force's charges (O) over the charges expected if
# its own cases (by risk, relationship and year, where recorded) were charged at national rates (E, from a
# logistic regression on every force's closed cases): above 1 the force charges more than national practice
# would for its cases. The ten forces furthest from 1 (exact Poisson intervals), and the funnel limits on O/E.

# %%
if compare:
    sr = indirect_standardisation(data.cases, "suspect_identified")
    print(f"Adjusted for: {', '.join(sr.attrs['covariates']) or 'nothing'}")
    for note in sr.attrs["notes"]:
        print(f"Note: {note}")
    far = sr.reindex(sr["ratio"].sub(1).abs().sort_values(ascending=False).index).head(10)
    print(publish_table(far[["entered", "observed", "expected", "ratio", "lower 95%", "upper 95%", "crude", "adjusted"]],
                        ["entered", "observed"], decimals=3))
    sf = standardised_funnel(sr)
    out = sf[sf["outside 99.8%"] != 0]
    print(f"Outside the 99.8% limits on O/E (over-dispersion allowed for): {', '.join(out.index) or 'none'}")
    moved = (np.sign(sr["crude"] - sr.attrs["national"]) != np.sign(sr["ratio"] - 1)).sum()
    print(f"Forces on the other side of the national rate once case mix is allowed for: {moved}")

# %% [markdown]
# ## Where could each force stand in a league table?
# Ranks from the joint posterior of all forces' charge rates (1 = highest): each draw ranks every force,
# so the interval says where a force could stand given everybody's uncertainty. The five highest and five
# lowest, and how wide the intervals are.

# %%
if compare:
    ranks = by_force.rank_intervals("suspect_identified")
    shown = pd.concat([ranks.head(5), ranks.tail(5)]) if len(ranks) > 10 else ranks
    print(shown.round(3).to_string())
    width = ranks["upper 95%"] - ranks["lower 95%"] + 1
    print(f"Median width of a 95% rank interval: {width.median():.0f} places of {len(ranks)}; forces whose interval "
          f"lies within the top quarter: {int((ranks['upper 95%'] <= np.ceil(len(ranks) / 4)).sum())}")

# %% [markdown]
# ## End to end: convictions for stalking per 10,000 reports, by force
# **Estimand:** the probability that a report ends in a conviction for stalking, per 10,000 reports. Two
# estimates side by side:
# *raw* (the force's own data, the product of its stage estimates, 95% confidence interval) and *pooled*
# (the product of its pooled stage rates, posterior mean and 95% credible interval). The five forces with
# the lowest and the highest pooled probability.

# %%
if compare:
    pe, raw = by_force.pooled_end_to_end_, by_force.end_to_end_
    e2e = pd.DataFrame({  # per 10,000 reports
        "reports": raw["reports"], "convicted": raw["reached"], "raw": 1e4 * raw["estimate"],
        "raw lower": 1e4 * raw["lower 95%"], "raw upper": 1e4 * raw["upper 95%"], "pooled": 1e4 * pe["pooled"],
        "pooled lower": 1e4 * pe["lower 95%"], "pooled upper": 1e4 * pe["upper 95%"],
    }).sort_values("pooled")
    shown = pd.concat([e2e.head(5), e2e.tail(5)]) if len(e2e) > 10 else e2e
    print("Convictions for stalking per 10,000 reports")
    print(publish_table(shown, ["reports", "convicted"], decimals=1))

# %% [markdown]
# If every force charged (after identifying a suspect) at the rate of the best quartile of forces, how many
# more convictions for stalking per 10,000 reports would each force see? **Held fixed:** each force's own
# rates at every other stage (recording, suspect identification, reaching court, conviction), as if charging
# more cases changed nothing downstream; the target is the 75th percentile of the pooled charge rates. The
# ten largest gains:

# %%
if compare:
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
# **Estimand:** for each force, the ratio of its underlying yearly rate of stalking reports in the last
# financial year to the year before (exact conditional Poisson interval). The 43 forces are all the forces
# there are, not a sample of them: how many recorded fewer reports is a count with no interval (the
# published FOI finding, "67% of forces whose Police and Crime Commissioner had committed to increasing
# reports recorded a decrease", is such a count). What is uncertain is whether a force's own rate changed,
# so the question is how many forces' intervals exclude no change, against how many would by chance alone,
# and which survive a correction for comparing every force (Holm).

# %%
years = sorted(data.cases["financial_year"].unique())
if len(years) < 2:
    skip("Reports year on year", f"the data cover one financial year ({years[0]})",
         "use an extract with at least two financial years of reports")
else:
    change = trends.force_changes(data.cases, from_year=years[-2], to_year=years[-1])
    print(change.statement)
    moved = change.by_force[change.by_force["interval_excludes_1"] != 0]
    if len(moved):
        print(publish_table(moved[["n_from", "n_to", "rate_ratio", "lower 95%", "upper 95%", "p_value", "p_holm"]],
                            ["n_from", "n_to"], decimals=3))

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
