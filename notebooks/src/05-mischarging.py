# %% [markdown]
# # 05 · Stalking recorded or charged as something else
#
# Many stalking reports are first recorded as harassment, malicious communications or another lesser
# offence, and some are charged as one. This notebook measures how often (nationally by year, and by force),
# corrects the number of stalking reports for it with a case-file review, and shows what the funnel from
# report to conviction looks like per true stalking report. Finally the same funnel is rebuilt from the
# aggregated Home Office outcomes open data.

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
import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from attrition.data import load_dataset, load_home_office_outcomes
from attrition.disclosure import count_text, format_table, publish_table
from attrition.figures import set_provenance, show_figure
from attrition.funnel import FunnelFitter
from attrition.sources.open_data.home_office import FUNNEL_COLUMNS, OFFENCE_CODES, cases_to_home_office, home_office_funnel_counts
from attrition.mischarging import (LESSER_OFFENCES, MisclassificationCorrection, ReviewerAccuracy, allocate_review,
                                   mischarging_table, plan_review, plot_mischarging, review_scenario,
                                   review_width_table, synthetic_review)
from attrition.mischarging_report import corrected_funnel_per, plot_corrected_funnel
from attrition.plotting import use_style
from attrition.report import skip
from attrition.standard import OUTCOME_EXIT_REASON

use_style()
pd.set_option("display.width", 160)
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
print(data)

# %% [markdown]
# ## 1. How often is stalking recorded as something else?
# For every financial year, the share of stalking reports whose **first** recorded classification was a
# lesser offence, the share still recorded as one after reclassification (**final**), and, among charged
# cases, the share **charged** with a lesser offence. "any lesser" is one minus the share recorded (or
# charged) as stalking; the other columns split it by offence. Intervals are 95% Wilson intervals.

# %%
nat = mischarging_table(data.cases, by="financial_year", stage=["recorded", "final", "charged"])
st = nat[nat["offence"] == "stalking"].set_index(["stage", "financial_year"])
lesser = pd.DataFrame({"denominator": st["total"], "any lesser": 1 - st["share"],
                       "lower 95%": 1 - st["upper 95%"], "upper 95%": 1 - st["lower 95%"]})
by_class = nat.pivot_table(index=["stage", "financial_year"], columns="offence", values="share")
print(publish_table(lesser.join(by_class[list(LESSER_OFFENCES)]), ["denominator"]))

# %% [markdown]
# Reclassification brings about a third of the misrecorded reports back to stalking, but a larger share of
# charges than of final classifications is still for a lesser offence, mostly harassment (see the table).
# The London Stalking Review found 80% of reports initially recorded as domestic abuse or harassment; the
# synthetic data do not model non-crime domestic-abuse recording, so their first-recording share is lower.
# By offence, with intervals:

# %%
fig, axes = plt.subplots(1, 3, figsize=(12.8, 4.4), sharey=True, layout="constrained")
titles = {"recorded": "First recorded as", "final": "Recorded after reclassification as",
          "charged": "Charged as (share of charged cases)"}
for ax, (stage, title) in zip(axes, titles.items()):
    plot_mischarging(nat, ax=ax, stage=stage)
    ax.get_legend().remove()
    ax.set(title=title, xlabel="Financial year of report", ylabel="")
axes[0].set_ylabel("Share of stalking reports")
fig.suptitle("Stalking recorded or charged as a lesser offence (95% Wilson intervals)")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, title="Offence", frameon=False)
show_figure(fig)

# %% [markdown]
# ### By force, last financial year
# The 10 forces with the highest share of stalking reports first recorded as a lesser offence. This table is
# published by force, so it goes through **disclosure control**: counts of 1 to 9 are withheld (with
# secondary suppression within each force, so no withheld count can be recovered by subtraction) together
# with the shares and intervals computed from them; withheld cells show as `[c]`. The "any lesser" share
# uses only the published stalking count and total.

# %%
last_year = data.cases["financial_year"].max()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    tab = mischarging_table(data.cases[data.cases["financial_year"] == last_year], by="force", stage="recorded",
                            suppress=True)
st = tab[tab["offence"] == "stalking"].set_index("force")
top = (1 - st["share"]).nlargest(10)
shown = format_table(tab).assign(force=tab["force"]).set_index("force")
wide = shown[shown["offence"] != "stalking"].pivot(columns="offence", values="share").loc[top.index, list(LESSER_OFFENCES)]
wide.insert(0, "reports", st.loc[top.index, "total"].astype(int))
wide.insert(1, "any lesser", top.map("{:.3f}".format))
wide.insert(2, "95% CI", [f"{1 - h:.3f}-{1 - lo:.3f}" for lo, h in st.loc[top.index, ["lower 95%", "upper 95%"]].to_numpy()])
print(*(f"{w.category.__name__}: {w.message}" for w in caught), sep="\n")
print("forces with withheld cells:", ", ".join(sorted(tab.loc[tab["suppressed"], "force"].unique())) or "none")
print(f"{last_year}: share of stalking reports first recorded as each lesser offence")
print(wide.to_string())

# %% [markdown]
# ## 2. Correcting the count of stalking reports with a case-file review
# Recorded-crime counts of harassment, malicious communications etc. mix genuine (non-stalking) cases with
# misrecorded stalking, so the number of stalking reports is unknown from the counts alone. The London
# Stalking Review read case files and found that 80% of stalking reports had initially been recorded as
# domestic abuse or harassment. Here a review of 200 case files is drawn from the data, stratified by recorded
# class (40 files each), after adding to each lesser class as many genuine non-stalking records as it holds
# misrecorded stalking reports (`background=1`). In the synthetic data the truth is known, so the correction
# can be checked.

# %%
if not data.synthetic:
    skip("The case-file review correction (sections 2 and 3)", "it needs a review of case files; on "
         "real data no review sample is simulated", "review a stratified sample of case files by recorded "
         "class and fit attrition.mischarging.MisclassificationCorrection to the table of (recorded, "
         "true_stalking, n)")
else:
    review = synthetic_review(data.cases, n=200, random_state=seed, background=1.0)
    mc = MisclassificationCorrection(alpha=0.05, random_state=seed).fit(review.review)
    print("Reviewed case files by recorded classification and the reviewer's judgement:")
    print(review.review.pivot(index="recorded", columns="true_stalking", values="n").to_string())
    print("\nP(truly stalking | recorded as ...), Jeffreys-posterior 95% intervals:")
    print(mc.summary.round(3).to_string())

# %% [markdown]
# `MisclassificationCorrection` counts each record of class X as P(stalking | recorded X) stalking reports
# (stratified estimator) and carries the review's sampling uncertainty through by posterior simulation
# (4,000 draws). The downstream funnel entries (reports that reach charge and conviction) are the long-run
# counts of a `FunnelFitter` fit on the case table (open cases handled by Aalen–Johansen). "observed" takes
# the recorded classification at face value: every record recorded as stalking is a stalking report and no
# other record is.

# %%
if data.synthetic:
    funnel = FunnelFitter(alpha=0.05, stages=("reported", "charged", "convicted")).fit(data.cases)
    n_reports = float(funnel.national_.loc["reported", "entered"])
    downstream = {s: float(funnel.national_.loc[s, "p_reach"]) * n_reports for s in ("charged", "convicted")}
    corr = mc.correct(review.counts, downstream=downstream)
    truth = {"records": review.truth["records"], "true_stalking": review.truth["true_stalking"],
             "share_stalking": review.truth["share_stalking"], "recording_sensitivity": review.truth["recording_sensitivity"],
             "misrecorded_share": 1 - review.truth["recording_sensitivity"],
             **{f"{s}_per_report": float(funnel.national_.loc[s, "p_reach"]) for s in downstream}}
    corr["truth"] = corr["quantity"].map(truth)
    rows = corr[corr["quantity"] != "recorded_as_stalking"].drop(columns=["method", "variance"])
    print(rows.set_index("quantity").round(4).to_string())

# %% [markdown]
# Taken at face value, the records say there are far fewer stalking reports than there are, and that none is
# misrecorded. The corrected count, the share of records that are stalking, the share of stalking reports
# recorded as a lesser offence and the funnel entries per report are close to the truth, and on the synthetic data each 95%
# interval covers it (compare the `truth` column; for the funnel entries it is the long-run share of the
# case table's reports reaching the stage).

# %% [markdown]
# ## 3. The funnel per 10,000 true stalking reports
# Charged = recorded as stalking and then charged (with stalking or, for some, a lesser offence); convicted =
# convicted of stalking. "observed" is per 10,000 records recorded as stalking; "corrected" per 10,000 stalking
# reports estimated by the review (95% interval from the review); "truth" per 10,000 reports of the synthetic
# case table.

# %%
if data.synthetic:
    per = corrected_funnel_per(corr, truth={s: float(funnel.national_.loc[s, "p_reach"]) for s in downstream})
    rel = {s: float(funnel.national_.loc[s, "p_reach_se"] / funnel.national_.loc[s, "p_reach"]) for s in downstream}
    rel_T = float(corr.set_index("quantity").loc["true_stalking", "se"] / corr.set_index("quantity").loc["true_stalking", "corrected"])
    print(per.round(0).to_string())
    print("\nrelative standard error of the funnel counts: "
          + ", ".join(f"{s} {v:.3f}" for s, v in rel.items()) + f"; of the corrected number of reports: {rel_T:.3f}")

# %% [markdown]
# Counting only the records recorded as stalking nearly doubles the apparent charge and conviction rates per
# report; once misrecorded stalking is counted, the funnel is close to the true one. The intervals carry only
# the review's uncertainty: the funnel counts come from the whole case table, and their relative standard
# errors (printed above) are several times smaller than the review's, so adding them would widen the
# intervals only slightly.

# %%
if data.synthetic:
    display(show_figure(plot_corrected_funnel(per).figure))

# %% [markdown]
# ## 4. Planning a review at realistic PPVs
# In the review above half of every lesser class is stalking (`background=1`), which makes the correction
# look easy. Real harassment, malicious-communications and criminal-damage records are mostly genuine: the
# share that is misrecorded stalking, the class's **PPV**, is more like 0.05 to 0.2. The scenario below keeps
# the data's own numbers of stalking reports first recorded as each lesser offence and adds the genuine
# records a class would hold at an anticipated PPV (harassment 0.15, malicious communications 0.10,
# criminal damage and other 0.05). **Estimand:** the number of stalking reports recorded as a lesser offence,
# T = Σ records × PPV. The tables give the half-width of its 95% interval (± share of T) against the number
# of files reviewed, for files split equally, in proportion to class size, or by **Neyman allocation**
# (files ∝ records × √(PPV(1 − PPV)), the split with the narrowest interval for a given number of files),
# and the files each class needs for a target width. The widths assume the anticipated PPVs. (A class with
# fewer than 10 stalking reports recorded as it is left out: the plan would reveal its count.)

# %%
ppv = pd.Series({"harassment": 0.15, "malicious_communications": 0.10, "criminal_damage": 0.05, "other": 0.05})
scen = review_scenario(data.cases, ppv)  # classes with fewer than 10 such reports left out (disclosure control)
sizes, ppv, misrec = scen["records"], scen["ppv"], scen["stalking_reports"]
if scen.empty:
    skip("Review planning", "no lesser offence class holds 10 or more stalking reports first recorded as it")
else:
    print(scen.to_string())
    width = review_width_table(sizes, ppv, files=(100, 200, 400, 800, 1600, 3200))
    print(f"\n95% interval half-width, ± share of T = {width.attrs['expected_stalking']:,.0f}, by files reviewed:")
    print(width.round(3).to_string())
    plans = {f"±{w:.0%}": plan_review(sizes, ppv, w) for w in (0.3, 0.2, 0.1)}
    need = pd.DataFrame({k: v["files"] for k, v in plans.items()})
    need.loc["total (Neyman)"] = [v.attrs["files"] for v in plans.values()]
    need.loc["total (equal split)"] = [plan_review(sizes, ppv, w, allocation="equal").attrs["files"] for w in (0.3, 0.2, 0.1)]
    print("\nfiles to review per class (Neyman allocation) for a target half-width:")
    print(need.to_string())

# %% [markdown]
# With a couple of hundred files the count of misrecorded stalking is known only to within about ±40–50% of
# itself, whichever way the files are split; a ±10% answer needs thousands of files. Neyman allocation
# sends most files to the largest class (harassment) and saves files against an equal split when the classes
# differ in size. On the synthetic data the truth is known, so the two designs can be compared on one drawn
# review of 200 files each:

# %%
if data.synthetic and not sizes.empty:
    bg = (sizes - misrec).to_dict()  # genuine (non-stalking) records added to each lesser class
    designs = {"equal split": allocate_review(sizes, ppv, 200, "equal"), "Neyman": allocate_review(sizes, ppv, 200)}
    rows = {}
    for name, files in designs.items():
        sr = synthetic_review(data.cases, random_state=seed, background=bg, allocation=files)
        lesser = sr.counts[sr.counts["offence"] != "stalking"]
        out = MisclassificationCorrection(random_state=seed).fit(sr.review).correct(lesser).set_index("quantity")
        t = out.loc["true_stalking"]
        rows[name] = {"files": ", ".join(f"{c} {n}" for c, n in files.items()), "corrected": f"{t['corrected']:,.0f}",
                      "95% interval": f"{t['lower 95%']:,.0f} to {t['upper 95%']:,.0f}",
                      "± share": f"{(t['upper 95%'] - t['lower 95%']) / 2 / t['corrected']:.2f}",
                      "truth": f"{misrec.sum():,}"}
    print(pd.DataFrame(rows).T.to_string())

# %% [markdown]
# ## 5. The reviewer's own errors
# A reviewer can miss stalking in a file (sensitivity below 1) or read stalking into one that is not
# (specificity below 1). With PPVs this low a small false-positive rate matters: in a class whose PPV is 0.05,
# a reviewer who finds 85% of stalking files and flags 3% of genuine ones flags 0.05 × 0.85 + 0.95 × 0.03 =
# 7.1% of the files, 40% more than are stalking. `MisclassificationCorrection(reviewer=...)` corrects each class's
# share flagged, q = (r + Sp − 1)/(Se + Sp − 1) (Rogan–Gladen, truncated to [0, 1]), and carries the
# uncertainty about Se and Sp through: known values, a **double review** (files also judged by a reference
# reviewer, giving Beta posteriors) or a plausible **range**. Here the synthetic review of 800 files
# (Neyman) is read by a reviewer with sensitivity 0.85 and specificity 0.97, 200 of the files also by a
# reference reviewer.

# %%
if data.synthetic and not sizes.empty:
    sr = synthetic_review(data.cases, random_state=seed, background=bg, allocation=allocate_review(sizes, ppv, 800),
                          reviewer_error=(0.85, 0.97), double_review=200)
    lesser = sr.counts[sr.counts["offence"] != "stalking"]
    dr = ReviewerAccuracy.from_double_review(**sr.truth["double_review"])
    print("double review:", dr.source, "-> sensitivity {:.3f}, specificity {:.3f} (posterior means)".format(*dr.mean()))
    reviewers = {"taken as perfect": None, "known (0.85, 0.97)": ReviewerAccuracy.known(0.85, 0.97),
                 "double review": dr,
                 "range Se 0.75-0.95, Sp 0.95-0.99": ReviewerAccuracy.from_range((0.75, 0.95), (0.95, 0.99))}
    rows = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, rv in reviewers.items():
            t = MisclassificationCorrection(random_state=seed, reviewer=rv).fit(sr.review).correct(lesser)
            t = t.set_index("quantity").loc["true_stalking"]
            rows[name] = {"corrected": t["corrected"], "lower 95%": t["lower 95%"], "upper 95%": t["upper 95%"],
                          "truth": int(misrec.sum())}
    print(pd.DataFrame(rows).T.round(0).to_string())
    print(*sorted({f"{w.category.__name__}: {w.message}" for w in caught}), sep="\n")

# %% [markdown]
# Taking an imperfect reviewer's flags at face value overstates the count: every genuine record the reviewer
# misreads as stalking is multiplied up by the size of its class, and the interval, which knows nothing of
# the reviewer's errors, can miss the truth. Correcting for known error rates removes that bias. Estimated
# from a double review the rates are themselves uncertain (few of 200 double-reviewed files are stalking,
# so the sensitivity rests on a handful of files) and a range of plausible rates is no better: the interval
# widens, which is the honest price of not knowing how good the reviewer is.
#
# ## 6. A review that was not random
# The correction assumes the reviewed files are a random sample within each class. If reviewers were handed
# files that looked like stalking, the reviewed files are likelier to be stalking than the rest. **Estimand
# under selection:** the odds that a reviewed file is stalking are ψ times the odds for an unreviewed file of
# the same class (ψ = 1: random review). The table gives the corrected count for a range of ψ and, with no
# assumption at all about the unreviewed files, the Manski bounds (ψ = ∞: none of them stalking; ψ = 0: all).
# ψ is not estimated by the review: it is a sensitivity parameter. On the synthetic data the review is random,
# so the truth sits at ψ = 1.

# %%
if data.synthetic and not sizes.empty:
    sr = synthetic_review(data.cases, random_state=seed, background=bg, allocation=allocate_review(sizes, ppv, 800))
    lesser = sr.counts[sr.counts["offence"] != "stalking"]
    sens = MisclassificationCorrection(random_state=seed).fit(sr.review).selection_sensitivity(lesser)
    sens["truth"] = int(misrec.sum())
    print(sens.drop(columns=["misrecorded_share"]).round({"true_stalking": 0, "se": 0, "lower 95%": 0, "upper 95%": 0,
                                                          "change": 3}).to_string(index=False))

# %% [markdown]
# The `change` column is how far the answer moves for a given selection: at PPVs this low, files twice as
# likely to be stalking as the rest (ψ = 2) would mean about half as many misrecorded stalking reports as
# the random-review correction says, because the odds of the unreviewed files are halved and they are nearly
# all of the records. The bounds without any assumption run from the stalking files found to all unreviewed
# records, which says nothing: a review must be random within class, and documented as such, for its count
# to mean anything.

# %% [markdown]
# ## 7. The same funnel from the Home Office open data
# The Home Office publishes police outcomes only as aggregated counts: financial year × quarter × force ×
# offence code (8Q stalking, 8L harassment, 8R malicious communications) × outcome type. Here the synthetic
# cases are written in the (older) open-data layout to a temporary CSV file, read back with
# `load_home_office_outcomes` and aggregated with `home_office_funnel_counts`. The table uses the current
# (final) classification, so a case counts under 8Q if it ended up recorded as stalking; criminal damage and
# other offences have no code here. Outcomes beyond the police outcome (court, conviction) are not in it.

# %%
ho_layout = cases_to_home_office(data.cases)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "prc-outcomes.csv")
    ho_layout.to_csv(path, index=False)
    ho_table, load_report = load_home_office_outcomes(path, return_report=True)
ho = home_office_funnel_counts(ho_table, by="offence_code").set_index("offence_code")
print(f"{len(ho_layout):,} open-data rows; every row read is accounted for: {load_report.balanced}")
print(publish_table(ho.astype("int64"), list(ho.columns)))

# %% [markdown]
# The same counts straight from the case table (final classification, police outcome code):

# %%
code = data.cases["final_offence"].astype(object).map(OFFENCE_CODES)
reason = data.cases["outcome_code"].fillna(0).astype(int).map({0: "open", 1: "charged", **OUTCOME_EXIT_REASON})
direct = pd.crosstab(code.rename("offence_code"), reason).reindex(columns=list(FUNNEL_COLUMNS[1:-1]), fill_value=0)
direct.insert(0, "offences", direct.sum(axis=1))
stages = FunnelFitter(stages=("reported", "recorded_stalking", "charged")).fit(data.cases).national_["entered"]
print("open data == case table, every offence and outcome:",
      bool((ho[direct.columns].to_numpy() == direct.loc[ho.index].to_numpy()).all()))
print(f"stalking (8Q): {count_text(ho.loc['8Q', 'offences'])} offences -> {count_text(ho.loc['8Q', 'charged'])} charged; "
      f"case-table funnel: {count_text(stages['recorded_stalking'])} recorded as stalking -> {count_text(stages['charged'])} charged; "
      f"equal: {bool(ho.loc['8Q', 'offences'] == stages['recorded_stalking'] and ho.loc['8Q', 'charged'] == stages['charged'])}")

# %% [markdown]
# The open data reproduce the case table's stage counts exactly: offences recorded as stalking and those
# charged. What the aggregated data cannot show is everything above: the reports recorded as harassment or
# malicious communications that were stalking (8L and 8R mix them with genuine cases), and convictions.
