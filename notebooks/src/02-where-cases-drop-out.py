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
from attrition.disclosure import format_table, publish_table, rate_text, suppress_small_counts
from attrition.figures import set_provenance, show_figure
from attrition.funnel import FunnelFitter
from attrition.headlines import headline_figures
from attrition.plotting import use_style

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
n_convicted = funnel.national_.loc["convicted", "entered"]  # the rate on a stated number of reports reveals it
r = lambda v, fmt="{:.4f}": rate_text(v, n_convicted, fmt=fmt)  # "[c]" if fewer than 10 convictions
print(f"Report -> conviction for stalking: {r(e2e['estimate'])} (95% CI {r(e2e['lower 95%'])} to "
      f"{r(e2e['upper 95%'])}), i.e. {r(1e4 * e2e['estimate'], '{:.0f}')} convictions per 10,000 reports")

# %%
show_figure(funnel.plot(withhold_below=DISCLOSURE_THRESHOLD).figure)  # small exit segments pooled, as in Fig01

# %% [markdown]
# ## Why cases leave: the loss decomposed
# The whole loss between report and conviction, split into stage × reason: each row is the share of all
# reports lost at that stage for that reason (the rows sum to the total loss). The largest single loss is
# victims not supporting action after a suspect is identified; close behind are cases never recorded as
# stalking and cases dropped for evidential difficulties although the victim supported action.

# %%
loss = funnel.decompose().droplevel("group")
exited = data.cases[data.cases["status"] == "exited"]
n_exits = exited.groupby([exited["exit_stage"].astype(str), exited["exit_reason"].astype(str)]).size()
loss = loss[loss["contribution"] > 0].sort_values("contribution", ascending=False)
loss["cases"] = n_exits.reindex(loss.index, fill_value=0).to_numpy()
loss["per 10,000 reports"] = (1e4 * loss["contribution"]).round(0).astype("Int64")
print(publish_table(loss[["cases", "per 10,000 reports", "lower 95%", "upper 95%", "share_of_loss"]], ["cases"],
                    decimals=4))
print(f"\ntotal loss: {loss['contribution'].sum():.4f} = 1 - end-to-end ({1 - e2e['estimate']:.4f})")

# %% [markdown]
# ## What would change the number of convictions?
# If charging after a suspect is identified ran at 10% instead of today's rate, how many more convictions for
# stalking per 10,000 reports? The counterfactual holds every other stage's conversion rate fixed at its
# estimate (an assumption: more charges could change later stages too); its interval carries the sampling
# uncertainty of the estimated rates and keeps the sign of the estimate.

# %%
cf = funnel.counterfactual("suspect_identified", rate=0.10)
# "now" is today's convictions per 10,000 reports, and "counterfactual" - "extra" gives it back: all withheld
# ([c]) with fewer than 10 convictions
cf = suppress_small_counts(cf.round(3).assign(convictions=n_convicted), ["convictions"], warn=False)
print(format_table(cf).drop(columns="convictions").to_string())
