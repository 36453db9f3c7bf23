# %% [markdown]
# # 02 · Where stalking cases drop out
#
# Of every 10,000 stalking reports, how many are recorded as stalking, get a suspect identified, are
# charged, reach court and end in a conviction for stalking — and at each step, why do the others leave?
#
# `FunnelFitter` answers this from the case table in one fit: per stage, the chance of moving on and the
# exit reasons, with 95% confidence intervals. Open cases are not counted as losses: a stage's long-run
# chance of moving on is the Aalen–Johansen estimate from the time the stage was entered, which with no open
# cases is the plain proportion (Wilson intervals).

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

from attrition.config import DISCLOSURE_THRESHOLD
from attrition.data import load_dataset
from attrition.disclosure import publish_table
from attrition.figures import set_provenance, show_figure
from attrition.funnel import FunnelFitter
from attrition.headlines import headline_figures, reconcile_headlines
from attrition.plotting import use_style
from attrition.report import skip

use_style()
pd.set_option("display.width", 160)
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
print(data)

# %% [markdown]
# ## The headline figures, reproduced from the data
# The published national figures for the year ending March 2022 next to the same measures computed from
# the reports of financial year 2021/22 in the data. (With the synthetic dataset this checks its
# calibration; with a real extract it is the first thing to compare.)

# %%
year = "2021/22" if (data.cases["financial_year"] == "2021/22").any() else None
head = headline_figures(data.cases, financial_year=year)
print(publish_table(head[["measure", "cases", "reports", "estimate", "lower 95%", "upper 95%", "published"]],
                    ["cases", "reports"], derived={c: ["cases"] for c in ["estimate", "lower 95%", "upper 95%"]},
                    decimals=4))

# %% [markdown]
# ## The national funnel
# `p_convert` is the chance that a case at a stage moves to the next one; `p_reach` the chance that a report
# reaches the stage at all. The stage "recorded as stalking" loses every report recorded only as a lesser
# offence (harassment, malicious communications, ...): those cases can still be charged with that offence,
# but not convicted of stalking.

# %%
funnel = FunnelFitter(alpha=0.05).fit(data.cases)
cols = ["entered", "converted", "open", "exited", "p_convert", "lower 95%", "upper 95%", "p_reach"]
rates = {c: ["entered", "converted"] for c in ["p_convert", "lower 95%", "upper 95%", "p_reach"]}
print(publish_table(funnel.summary[cols].droplevel("group"), ["entered", "converted", "open", "exited"], derived=rates,
                    decimals=4))

# %%
e2e = funnel.end_to_end_.iloc[0]
print(f"Report -> conviction for stalking: {e2e['estimate']:.4f} "
      f"(95% CI {e2e['lower 95%']:.4f} to {e2e['upper 95%']:.4f}), "
      f"i.e. {1e4 * e2e['estimate']:.0f} convictions per 10,000 reports")

# %%
show_figure(funnel.plot(withhold_below=DISCLOSURE_THRESHOLD).figure)  # small exit segments pooled, as in Fig01

# %% [markdown]
# ## Why cases leave: the loss decomposed
# **Estimand (stage-order accounting).** Each row is the share of all reports that leave the funnel at that
# stage for that reason, P(reach the stage) × P(leave for that reason | reached it), per 10,000 reports; the
# rows sum to the total loss, 1 − end-to-end. This is a *sequential* accounting that depends on the order
# of the stages: a report that leaves early is counted in full at its stage, as though every later stage
# would have let it through. It says where reports leave, not where convictions are lost.
#
# **What a counterfactual recovers.** `recoverable` is the number of convictions per 10,000 reports that
# would follow had these reports moved on instead, **every later stage held at its observed rate** (and the
# mix of cases moving on held fixed too: the recovered reports are assumed to fare like those that did move
# on). This, not the number of reports leaving, is the loss of convictions attributable to a cell. Reports
# never recorded or charged as stalking leave at the very first stage and so dominate the accounting, but
# recording every one of them as stalking would recover only the small share of them that would then go all
# the way to a conviction.

# %%
loss = funnel.decompose().droplevel("group")
exited = data.cases[data.cases["status"] == "exited"]
n_exits = exited.groupby([exited["exit_stage"].astype(str), exited["exit_reason"].astype(str)]).size()
loss = loss[loss["contribution"] > 0].sort_values("contribution", ascending=False)
loss["cases"] = n_exits.reindex(loss.index, fill_value=0).to_numpy()
per = pd.DataFrame({"cases": loss["cases"], "leaving": 1e4 * loss["contribution"], "lower 95%": 1e4 * loss["lower 95%"],
                    "upper 95%": 1e4 * loss["upper 95%"], "% of loss": 100 * loss["share_of_loss"],
                    "recoverable": 1e4 * loss["recoverable"]})
print("per 10,000 reports: leaving at the stage for the reason (95% CI), and the convictions recoverable")
print(publish_table(per, ["cases"], derived={c: ["cases"] for c in per.columns[1:]}, decimals=1))
print(f"\ntotal loss: {loss['contribution'].sum():.4f} = 1 - end-to-end ({1 - e2e['estimate']:.4f})")
if ("reported", "mischarged") in loss.index:
    mis = loss.loc[("reported", "mischarged")]
    print(f"never recorded or charged as stalking: {1e4 * mis['contribution']:.0f} reports per 10,000 leave here; "
          f"recording them all as stalking would recover {1e4 * mis['recoverable']:.0f} convictions per 10,000 "
          f"(95% CI {1e4 * (mis['recoverable'] - 1.96 * mis['recoverable_se']):.0f} to "
          f"{1e4 * (mis['recoverable'] + 1.96 * mis['recoverable_se']):.0f}), later stages at their observed rates")

# %% [markdown]
# ## An order-invariant attribution: Shapley values over stages
# **Estimand.** Take the value of a set S of stages to be the end-to-end conviction probability when the
# stages in S convert at a **benchmark** rate and every other stage at its observed rate. With the
# benchmark *perfect conversion* (every case moves on) the difference between all stages at the benchmark
# and none is the whole loss, 1 − end-to-end. A stage's Shapley value is its marginal contribution
# averaged over every order in which the stages could be fixed, so it does not depend on the order and the
# stage values add up exactly to the total. Beside it: `one_at_a_time`, the convictions per 10,000 gained if
# only that stage were at the benchmark (what a one-stage counterfactual recovers; these do not add up,
# because stages multiply), and `sequential`, the stage-order accounting above summed over reasons (it adds
# up, but depends on the order). Intervals: delta method (stages independent, benchmark fixed). **Held
# fixed:** the observed rates of the stages outside S and the mix of cases at each stage.

# %%
sh = funnel.shapley(benchmark="perfect")
cols = ["observed", "one_at_a_time", "sequential", "shapley", "lower 95%", "upper 95%", "share"]
print(sh.droplevel("group")[cols].round(3).to_string())
print(f"\nbenchmark: {sh.attrs['benchmark']}; total attributed: {sh.attrs['total'][sh.index[0][0]]:.0f} per 10,000 "
      f"reports (sum of the Shapley values {sh['shapley'].sum():.0f}, of the sequential values {sh['sequential'].sum():.0f})")
top = sh.droplevel("group")["shapley"].idxmax()
print(f"largest Shapley share: {top} ({sh.droplevel('group').loc[top, 'share']:.0%} of the loss); largest sequential: "
      f"{sh.droplevel('group')['sequential'].idxmax()}")

# %% [markdown]
# The three measures rank the stages differently. The sequential accounting charges the early stages with
# everything that leaves there and the late stages with little, because few reports reach them; the Shapley
# value counts each stage's shortfall the same whichever order the stages are fixed in, so a late stage that
# converts poorly gets more than in the sequential accounting and the recording stage less. Each stage's
# Shapley value lies between what fixing it first recovers (`one_at_a_time`) and what fixing it last would
# (its shortfall 1 − rate, every other stage perfect).
#
# Perfect conversion is not attainable. A benchmark forces have reached is the **best quartile**: the 75th
# percentile of the forces' pooled (full-Bayes) conversion rates at each stage. The total is then the gap
# between the national funnel and one whose every stage does as well as the best quarter of forces; a
# stage where the nation already does as well gets a value near zero. (Needs at least 10 forces.)

# %%
if data.cases["force"].nunique() < 10:
    skip("The best-quartile benchmark of the Shapley attribution", "it needs at least 10 forces to pool",
         "run on a national extract, or read the perfect-conversion attribution above")
else:
    by_force = FunnelFitter(alpha=0.05, random_state=seed).fit(data.cases, by="force")
    shq = by_force.shapley(benchmark="best_quartile", group="all")
    print(shq.droplevel("group")[["observed", "benchmark", "one_at_a_time", "shapley", "lower 95%", "upper 95%",
                                  "share"]].round(3).to_string())
    print(f"\nbenchmark: {shq.attrs['benchmark']}; total: {shq.attrs['total']['all']:.1f} more convictions per "
          f"10,000 reports (now {1e4 * e2e['estimate']:.0f})")

# %% [markdown]
# ## Reconciling the headline shares with the funnel
# The headline figures above and the funnel measure different things. For each headline share the table
# takes one to the other in steps that add up (each a share of reports; a `-` in `cases` marks a model-based
# step): the headline counts reports of one financial year with open cases in the denominator; some of those
# reports the funnel counts elsewhere because a **competing reason** removed them earlier (a report never
# recorded or charged as stalking leaves the stalking funnel at the first stage whatever its police outcome);
# the funnel is fitted on **every year** of reports; and it projects **open cases** by Aalen–Johansen. The
# evidential-difficulties headline (HO 15 as a share of all reports) becomes the decomposition's
# "suspect identified: evidential difficulties, victim supports" row this way; the charge rate counts charges
# for any offence, the funnel only reports recorded or charged as stalking.

# %%
recon = reconcile_headlines(data.cases, funnel, financial_year=year)  # blocks resting on a count 1-9 withheld
shown = recon.assign(cases=recon["cases"].map(lambda c: "-" if pd.isna(c) else f"{c:,.0f}"),
                     share=recon["share"].map("{:+.4f}".format))
shown.loc[recon["withheld"], ["cases", "share"]] = "[c]"
for key, part in shown.groupby("key", sort=False):
    print(f"\n{head.loc[key, 'measure']}")
    print(part.set_index("what")[["step", "cases", "share"]].to_string())
print(f"\nlargest gap between the steps' sum and the funnel estimate: {recon.attrs['check']:.1e}")

# %% [markdown]
# ## What would change the number of convictions?
# If charging after a suspect is identified ran at 10% instead of today's rate, how many more convictions for
# stalking per 10,000 reports? **Held fixed:** every other stage's conversion rate at its estimate (an
# assumption: more charges could change later stages too, e.g. weaker cases charged and then acquitted) and
# the mix of cases at each stage. The interval carries the sampling uncertainty of every estimated rate
# (delta method) and keeps the sign of the estimate.

# %%
cf = funnel.counterfactual("suspect_identified", rate=0.10)
print(cf.round(3).to_string())
print("held fixed:", cf.attrs["held_fixed"])
