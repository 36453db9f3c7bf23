# %% [markdown]
# # 04 · Time to outcome: when and why cases leave
#
# The funnel (notebook 02) says *how many* cases leave at each stage; this notebook adds *when*. Every
# case is followed from the day of the report until it leaves the journey (an exit reason, or a conviction
# for stalking) or until the extraction date (still open: right-censored). Exit reasons compete: a case
# closed because the victim withdrew support can no longer be convicted. So the right summary is the
# **cumulative incidence function** (CIF) of each reason, the Aalen–Johansen estimate, not one minus a
# Kaplan–Meier curve per reason (which would overstate every reason).
#
# Then: Gray's test of the CIFs between forces with and without a dedicated stalking officer; the
# multi-state journey (reported → suspect identified → charged → prosecuted → convicted, with an exit from
# every step); regression models for victim withdrawal and for conviction; and breaches of protective
# orders as recurrent events.

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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from attrition.data import load_dataset
from attrition.design import usable_covariates
from attrition.disclosure import publish_curve, publish_occupation, publish_table
from attrition.exceptions import AttritionError
from attrition.figures import set_provenance, show_figure
from attrition.plotting import LIGHT_GREY, REASON_COLOURS, REASON_LABELS, STAGE_COLOURS, STAGE_LABELS, use_style
from attrition.survival import (JOURNEY_TRANSITIONS, CauseSpecificCox, FineGrayFitter, MultiStateFitter,
                                breach_rate, cumulative_incidence, gray_test, journey_sojourns,
                                plot_cumulative_incidence, plot_exits_and_outcome, plot_state_occupation,
                                repeat_breach_recording,
                                time_to_breach)

from attrition.report import skip

use_style()
pd.set_option("display.width", 160)
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
print(data)
cases = data.cases


def at_days(curves, days, by="cause"):
    """Value of each step curve (tidy table: time, `by`, estimate, CIs) on the given days."""
    by = [by] if isinstance(by, str) else list(by)
    grid = curves[by].drop_duplicates().merge(pd.DataFrame({"day": np.asarray(days, float)}), how="cross")
    return pd.merge_asof(grid.sort_values("day"), curves.sort_values("time"), left_on="day", right_on="time", by=by)


def ci_text(df, est="estimate", digits=3):
    """'estimate (lower–upper)' as text, for compact tables."""
    f = f"{{:.{digits}f}}".format
    text = df[est].map(f) + " (" + df["lower 95%"].map(f) + "–" + df["upper 95%"].map(f) + ")"
    return text.where(df[est].notna(), "[c]")   # withheld by disclosure control (publish_curve)

# %% [markdown]
# ## 1 · When and why cases leave
# The outcome of each case: its exit reason if it exited, `convicted` if it was convicted of stalking, and
# censored (0) if it is still open at the extraction date.

# %%
outcome = (cases["exit_reason"].astype(object).where(cases["status"] != "convicted", "convicted")
           .where(cases["status"] != "open", 0))
labels = outcome.replace({0: "open"})  # the same with a text label for open (censored) cases
print(publish_table(labels.replace({"open": "(open: censored)"}).value_counts().rename("cases").to_frame(), ["cases"]))
# disclosure control of curves: each stops where < 10 cases are at risk, and steps only after 10 events pooled
cif = publish_curve(cumulative_incidence(cases["duration"], labels, alpha=0.05, include_survival=True, censor_code="open"))

# %% [markdown]
# The stacked curves (left): at each day since the report, the share of all reports that have left the journey
# without a conviction for stalking, split by why they left. A conviction for stalking is not a loss: it is drawn
# on its own panel (right), on its own scale.

# %%
order = (cif[cif["cause"] != "survival"].groupby("cause")["estimate"].last().drop("convicted")
         .sort_values(ascending=False).index.tolist())
axes = plot_exits_and_outcome(cif, outcome="convicted", causes=order, horizon=730,
                              labels={**REASON_LABELS, "convicted": "Convicted of stalking"},
                              title="How stalking reports leave the criminal-justice journey, by days since report")
show_figure(axes[0].figure)

# %% [markdown]
# The cumulative incidence of each outcome 30, 90, 180 and 365 days after the report, with pointwise 95%
# confidence intervals (infinitesimal-jackknife variance, log–log intervals). The row `still open` is the
# Kaplan–Meier probability of not having left yet.

# %%
tab = at_days(cif, [30, 90, 180, 365])
tab["CIF (95% CI)"] = ci_text(tab)
wide = tab.pivot(index="cause", columns="day", values="CIF (95% CI)").rename(index={"survival": "still open"})
wide.columns = [f"day {d:.0f}" for d in wide.columns]
print(wide.loc[["convicted", *order, "still open"]].to_string())
if (wide == "[c]").any().any():
    print("[c]: not published (before 10 events are pooled, or after fewer than 10 cases remain at risk)")

# %% [markdown]
# Most cases close within a few months (the `still open` row). Victims not supporting action and recording
# or conviction as another offence are the largest outcomes at every horizon, and both happen early; conviction
# for stalking accumulates slowly, because it waits for the court.
#
# ## 2 · Do forces with a dedicated stalking officer differ?
# Each case gets its force's status in the financial year of the report (`merge_officer`). Gray's test
# compares, for each outcome, the cumulative incidence curves of the two groups (χ² with 1 df). It is a
# descriptive comparison: forces with an officer may differ in other ways too (size, caseload, year), so a
# difference here is not by itself the effect of the officer (notebook 06 estimates that).

# %%
officer = None
if data.forces is None:
    skip("Gray's test by officer status", "no force-year table with `dedicated_stalking_officer`",
         "pass --forces PATH (docs/data-standard.md, 'The force-year table')")
else:
    from attrition.effects import merge_officer

    try:
        officer = merge_officer(cases, data.forces)["dedicated_stalking_officer"].map({0.0: "no officer", 1.0: "officer"})
    except AttritionError as err:
        skip("Gray's test by officer status", str(err).splitlines()[0])
    if officer is not None and officer.nunique() < 2:
        skip("Gray's test by officer status", "every case is in a force-year with the same officer status")
        officer = None
if officer is not None:
    print(officer.value_counts().to_string(), "\n")
    gray = gray_test(cases["duration"], labels, officer, censor_code="open")
    cif_off = at_days(cumulative_incidence(cases["duration"], labels, groups=officer, censor_code="open"), [365],
                      by=["cause", "group"])
    gray = gray.merge(cif_off.pivot(index="cause", columns="group", values="estimate").add_prefix("CIF 365d, "),
                      left_on="cause", right_index=True)
    print(gray.sort_values("statistic", ascending=False).round(4).to_string(index=False))

# %% [markdown]
# The outcomes whose curves differ most (largest statistic) are at the top; the last two columns give the
# direction (cumulative incidence by day 365 in each group). Conviction for stalking, drawn for both groups
# with 95% confidence bands:

# %%
if officer is not None:
    conv = cumulative_incidence(cases["duration"], labels, groups=officer, causes=None, censor_code="open")
    conv = conv[conv["cause"] == "convicted"]
    ax = None
    for grp, col in [("no officer", "#E69F00"), ("officer", "#0072B2")]:
        ax = plot_cumulative_incidence(conv, ax=ax, stacked=False, group=grp, labels={"convicted": grp},
                                       colors={"convicted": col}, legend_title="Force has a stalking officer")
    ax.set(xlim=(0, 730), ylim=(0, 1.15 * conv["upper 95%"].max()),
           ylabel="Cumulative incidence of conviction for stalking")
    ax.set_title("Conviction for stalking by officer status of the force")
    display(show_figure(ax.figure))

# %% [markdown]
# ## 3 · The multi-state journey
# A case moves forward through the funnel's stages (recorded as stalking, suspect identified, charged,
# prosecuted) to conviction, and can exit from any of them; as in the funnel, a report never recorded as stalking
# stays "reported" until it leaves. `journey_sojourns` turns the case table into one row per stay in a state; the Aalen–Johansen
# estimator of the multi-state model gives the probability of being in each state on each day since the
# report (Greenwood-type variance). Left: all states stacked; right, zoomed in: the states after charge
# (same colours), with 95% confidence bands.

# %%
sojourns = journey_sojourns(cases)
msf = MultiStateFitter(JOURNEY_TRANSITIONS, alpha=0.05).fit(sojourns)
print(msf)
colours, names = {**STAGE_COLOURS, "exited": LIGHT_GREY}, {**STAGE_LABELS, "exited": "Exited (any reason)"}
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
plot_state_occupation(msf, ax=left, colors=colours, labels=names, title="All states (stacked)")
left.legend(title="State", loc="upper right", frameon=True)
later = ["charged", "prosecuted", "convicted"]
plot_state_occupation(msf, ax=right, stacked=False, states=later, colors=colours, labels=names, legend=False,
                      title="After charge (zoomed in)")
occupied = msf.state_occupation_[msf.state_occupation_["state"].isin(later)]
left.set_xlim(0, 365)
right.set(xlim=(0, 365), ylim=(0, 1.15 * occupied["upper 95%"].max()))
show_figure(fig)

# %% [markdown]
# Probability of being in each state 90 and 365 days after the report (disclosure control: the value at the last
# time where every state holds 0 or at least 10 cases and moved by 0 or at least 10 since the last such time):

# %%
occ = at_days(publish_occupation(msf), [90, 365], by="state")  # times implying 1-9 cases in or moving between states not shown
occ["probability (95% CI)"] = ci_text(occ, "probability", 4)
print(occ.pivot(index="state", columns="day", values="probability (95% CI)")
      .reindex(msf.states_).rename(columns=lambda d: f"day {d:.0f}").rename_axis(columns=None).to_string())

# %% [markdown]
# Cases that move on do so quickly: the "charged" state is brief because most charged cases reach court
# soon after, and by day 365 almost every case has left the journey. Expected number of days spent in each
# state during the first year after the report (restricted mean time in state; the column sums to 365):

# %%
print(msf.expected_time_in_state(365).round(2).to_string(index=False))

# %% [markdown]
# ## 4 · Regression
# ### Victim withdrawal: cause-specific Cox model
# The hazard of closing because the victim does not support action, among cases still open, by risk level
# (reference: standard) and relationship to the suspect (reference: ex-partner). Other outcomes censor the
# case. Standard errors are cluster-robust by force (43 clusters), so force-level similarity of cases
# does not make the intervals too narrow.

# %%
def model_frame(event):
    """Covariates usable for this outcome on these data (sparse levels pooled, absent ones dropped), as dummies."""
    frame, kept, notes = usable_covariates(cases, ["risk", "relationship"], event=event)
    for note in notes:
        print("note:", note)
    X = pd.get_dummies(frame[kept], drop_first=True, dtype=float) if kept else pd.DataFrame(index=frame.index)
    return pd.concat([cases[["duration"]], X], axis=1).assign(outcome=outcome, force=cases["force"].astype(str)), list(X.columns)


cluster = "force" if data.n_forces >= 20 else None  # cluster-robust SEs need many clusters
if cluster is None:
    print(f"note: {data.n_forces} force(s) only: standard errors are model-based, not clustered by force")
cols = ["covariate", "exp(coef)", "lower 95%", "upper 95%", "se", "naive se", "p"]
model_data, covariates = model_frame(outcome == "victim_not_supporting")
csc = None
if not covariates:
    skip("Cox model of victim withdrawal", "no covariate can be estimated on these data")
else:
    try:
        csc = CauseSpecificCox(alpha=0.05).fit(model_data, "duration", "outcome", "victim_not_supporting", covariates,
                                               cluster_col=cluster)
    except AttritionError as err:
        skip("Cox model of victim withdrawal", str(err).splitlines()[0])
if csc is not None:
    if data.synthetic:  # its description counts events, which can be small on real data
        print(csc)
    print(csc.summary[cols].rename(columns={"exp(coef)": "hazard ratio"}).round(3).to_string(index=False))

# %% [markdown]
# Hazard ratios above 1 mean that, among cases still open, victim withdrawal happens at a higher rate. Where
# the robust and naive standard errors are close, cases within a force are not much more alike than cases
# across forces for this outcome.
#
# ### Conviction for stalking: Fine–Gray model
# The Fine–Gray model works on the cumulative incidence itself (the subdistribution hazard), so its
# predictions are probabilities of ever being convicted by a given day. The method keeps cases with a
# competing exit in the risk set with censoring weights, which multiplies the data many times; it is fitted
# on a random subsample of 20,000 cases (`random_state=seed`), with standard errors clustered by force.

# %%
model_data, covariates = model_frame(outcome == "convicted")
fg = None
if not covariates:
    skip("Fine–Gray model of conviction", "no covariate can be estimated on these data")
else:
    sub = model_data.sample(n=min(20_000, len(model_data)), random_state=seed)
    try:
        fg = FineGrayFitter(alpha=0.05).fit(sub, "duration", "outcome", "convicted", covariates, cluster_col=cluster)
    except AttritionError as err:
        skip("Fine–Gray model of conviction", str(err).splitlines()[0])
if fg is not None:
    if data.synthetic:
        print(fg)
    print(fg.summary[cols].rename(columns={"exp(coef)": "subdistribution HR"}).round(3).to_string(index=False))

# %% [markdown]
# Predicted probability of conviction for stalking by day 90, 180, 365 and 730 for a standard-risk and a
# high-risk case (both with an ex-partner as suspect, the reference relationship):

# %%
if fg is not None and "risk_high" in covariates:
    profiles = pd.DataFrame(0.0, index=["standard risk", "high risk"], columns=covariates)
    profiles.loc["high risk", "risk_high"] = 1.0
    pred = fg.predict_cumulative_incidence(profiles, [90, 180, 365, 730])
    print(pred.round(4).to_string())
else:
    skip("Predicted conviction by risk level", "the Fine–Gray model has no separate high-risk term on these data")

# %% [markdown]
# The model's curves (lines) against the Aalen–Johansen estimate from all ex-partner cases of each risk
# level (dashed steps, no model): where they agree, the proportional subdistribution hazards model fits
# (the model is fitted on the subsample, so some distance is sampling error).

# %%
if fg is not None and "risk_high" in covariates:
    days = np.arange(0, 731)
    curves = fg.predict_cumulative_incidence(profiles, days)
    # the profiles hold every other covariate at its reference: ex-partner if relationship is in the model
    by_rel = any(c.startswith("relationship_") for c in covariates)
    ex = cases["relationship"] == "ex_partner" if by_rel else pd.Series(True, index=cases.index)
    who = "ex-partner cases" if by_rel else "all cases"
if fg is not None and "risk_high" in covariates and cases.loc[ex, "risk"].nunique() < 2:
    skip("Conviction by risk level, Fine–Gray beside Aalen–Johansen", f"too few {who} of each risk level")
elif fg is not None and "risk_high" in covariates:
    aj = cumulative_incidence(cases.loc[ex, "duration"], labels[ex], groups=cases.loc[ex, "risk"].astype(str),
                              censor_code="open")
    aj = at_days(aj[aj["cause"] == "convicted"], days, by="group")
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, risk, col in [("standard risk", "standard", "#0072B2"), ("high risk", "high", "#D55E00")]:
        ax.plot(days, curves[name], color=col, label=f"{name}: Fine–Gray")
        a = aj[aj["group"] == risk]
        ax.step(a["day"], a["estimate"], where="post", color=col, linestyle="--", label=f"{name}: Aalen–Johansen")
    ax.set(xlabel="Days since report", ylabel="Probability of conviction for stalking",
           title=f"Conviction by risk level ({who})", xlim=(0, 730), ylim=(0, None))
    ax.legend(frameon=False)
    display(show_figure(fig))

# %% [markdown]
# ## 5 · Breaches of protective orders
# Breaches are recurrent events. Orders outlive the case, so every case is followed from its report to the
# extraction date (`as_of`). Breaches per 100 case-years by risk level, with the exact Poisson interval
# and a cluster-robust one that allows for repeat breaching within a case:

# %%
breach_ok = (data.events["event"] == "order_breach").any() and cases["risk"].notna().any()
if not breach_ok:
    skip("Breaches of protective orders", "the data hold no order_breach events or no risk levels",
         "include order_breach events (with order_type) and the risk column in the extract")
else:
    br = breach_rate(data.events, cases, by="risk", as_of=data.as_of)
    print(br.round(2).to_string(index=False))

# %% [markdown]
# The rate rises steeply with the risk level. A second breach is the point where the conduct is a course
# of conduct and a separate stalking offence should normally be recorded. The probability of a second
# breach within t days of the report (1 − Kaplan–Meier, follow-up censored at the extraction date):

# %%
if breach_ok:
    second = publish_curve(time_to_breach(data.events, cases, k=2, by="risk", as_of=data.as_of), by="risk")
    tab = at_days(second.assign(risk=second["risk"].astype(str)), [90, 180, 365, 730], by="risk")
    tab["P(2nd breach) (95% CI)"] = ci_text(tab)
    print(tab.pivot(index="risk", columns="day", values="P(2nd breach) (95% CI)")
          .reindex(["standard", "medium", "high"]).rename(columns=lambda d: f"day {d:.0f}").rename_axis(columns=None)
          .to_string())

# %%
if breach_ok:
    curves2 = second.assign(cause=second["risk"].astype(str))
    ax = None
    for risk, col in [("standard", "#0072B2"), ("medium", "#E69F00"), ("high", "#D55E00")]:
        ax = plot_cumulative_incidence(curves2[curves2["cause"] == risk], ax=ax, stacked=False, labels={risk: risk},
                                       colors={risk: col}, legend_title="Risk level")
    ax.set(xlim=(0, 730), ylim=(0, 1.15 * curves2["upper 95%"].max()), ylabel="Probability of a second breach",
           title="Time to a second breach of a protective order")
    display(show_figure(ax.figure))

# %% [markdown]
# Where the curves flatten, no more second breaches happen (orders have a limited life), so a rate per
# case-year over the whole follow-up is lower than the rate while an order is in force.
#
# Of the cases with two or more breaches, how many were ever recorded as stalking? (Wilson 95% intervals.)
# Repeated breaching is a course of conduct, so the shortfall from 1 is the recording gap.

# %%
if breach_ok:
    rec = pd.concat([repeat_breach_recording(cases).assign(risk="all"), repeat_breach_recording(cases, by="risk")])
    rec = rec.set_index("risk")[["cases", "recorded_stalking", "share", "lower 95%", "upper 95%"]]
    print(publish_table(rec, ["cases", "recorded_stalking"]))
