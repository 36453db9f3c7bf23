# %% [markdown]
# # 08 · The report figures
#
# Every figure of the report, written to `figures/` (or `figures_dir`) as PNG and SVG through one helper,
# `attrition.figures.publish_figure`, which strips dates and software versions so that re-running gives
# byte-identical files, and refuses to write a figure whose underlying counts fail disclosure control (no
# count under 10 published; withheld counts are drawn as "[c]"). The analyses behind each figure are
# explained in notebooks 02–07.

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
import warnings

import matplotlib.pyplot as plt
import pandas as pd

from attrition import trends
from attrition.config import DISCLOSURE_THRESHOLD, FIGURES_DIR
from attrition.data import load_dataset
from attrition.disclosure import suppress_small_counts
from attrition.effects import (forest_plot, officer_design, officer_effect, plot_spo_effects,
                               plot_trial_risk_curves, spo_hazard_ratios, spo_trial_on_data, trial_effects_table,
                               true_trial_risks)
from attrition.effects.trials import TRIALS
from attrition.exceptions import AttritionError, ConvergenceError, DataValidationError, DisclosureWarning
from attrition.figures import publish_figure, set_provenance
from attrition.funnel import FunnelFitter
from attrition.mischarging import mischarging_table, plot_mischarging
from attrition.plotting import REASON_COLOURS, REASON_LABELS, use_style
from attrition.report import skip
from attrition.survival import (JOURNEY_TRANSITIONS, MultiStateFitter, cumulative_incidence, journey_sojourns,
                                plot_cumulative_incidence, plot_state_occupation)

use_style()
out_dir = FIGURES_DIR if figures_dir is None else figures_dir
data = load_dataset(data_path, as_of=as_of, forces=forces, seed=seed, forces_path=forces_path, columns=columns,
                    dayfirst=dayfirst)
set_provenance(data.provenance)
cases = data.cases
print(data)


written = []


def publish(fig, name, **kwargs):
    """Write a figure; if its counts fail disclosure control, write nothing and say so."""
    try:
        image = publish_figure(fig, name, out_dir=out_dir, **kwargs)
        written.append(name)
        return image
    except AttritionError as err:
        plt.close(fig)
        skip(name, "withheld by disclosure control: " + str(err).splitlines()[0])


# %% [markdown]
# ## Fig01 · The national funnel

# %%
funnel = FunnelFitter(alpha=0.05).fit(cases)
counts = funnel.summary[["entered", "converted", "exited"]].fillna(0).astype(int).reset_index(drop=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DisclosureWarning)
    counts = suppress_small_counts(counts, ["entered", "converted", "exited"])
ax = funnel.plot(withhold_below=DISCLOSURE_THRESHOLD)  # small exit segments pooled, small stages shown as [c]
publish(ax.figure, "Fig01_national-funnel", suppressed=counts)

# %% [markdown]
# ## Fig02 · Where and why reports are lost

# %%
publish(funnel.plot_decomposition().figure, "Fig02_loss-by-stage-and-reason")

# %% [markdown]
# ## Fig03 · Charging after a suspect is identified, by force (partial pooling)

# %%
by_force = FunnelFitter(alpha=0.05).fit(cases, by="force")
raw = by_force.published_counts("suspect_identified")  # a raw rate reveals its counts: small ones withheld
ax = by_force.caterpillar_plot(stage="suspect_identified", withhold=raw.loc[raw["suppressed"], "group"])
publish(ax.figure, "Fig03_force-charge-rates", suppressed=raw)

# %% [markdown]
# ## Fig04 · SPO applications by force, last financial year (small counts withheld)

# %%
last_year = cases["financial_year"].max()
apps = trends.spo_applications(data.events)
apps = apps[apps["financial_year"] == last_year][["force", "applications"]].reset_index(drop=True)
if not data.events["event"].isin(["spo_interim_applied", "spo_full_applied"]).any():
    skip("Fig04_spo-applications-by-force", "the data hold no SPO application events")
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        apps = suppress_small_counts(apps, ["applications"])
    ax = trends.plot_spo_applications(apps)
    ax.set_title(f"Stalking Protection Order applications by force, {last_year}")
    display(publish(ax.figure, "Fig04_spo-applications-by-force", suppressed=apps, count_cols=["applications"]))

# %% [markdown]
# ## Fig05 · When and why cases leave (competing risks)

# %%
outcome = (cases["exit_reason"].astype(object).where(cases["status"] != "convicted", "convicted")
           .where(cases["status"] != "open", 0))
cif = cumulative_incidence(cases["duration"], outcome.replace({0: "open"}), alpha=0.05, censor_code="open")
order = cif.groupby("cause")["estimate"].last().drop("convicted").sort_values(ascending=False).index.tolist()
ax = plot_cumulative_incidence(cif, causes=["convicted", *order], figsize=(9, 4.2),
                               labels={**REASON_LABELS, "convicted": "Convicted of stalking"},
                               title="How stalking reports leave the criminal-justice journey")
ax.set_xlim(0, 730)
ax.set_xlabel("Days since report (first two years)")
publish(ax.figure, "Fig05_exit-reasons-over-time")

# %% [markdown]
# ## Fig06 · The multi-state journey

# %%
msf = MultiStateFitter(JOURNEY_TRANSITIONS, alpha=0.05).fit(journey_sojourns(cases))
ax = plot_state_occupation(msf, title="Where reports are, day by day after the report")
ax.set_xlim(0, 365)
publish(ax.figure, "Fig06_journey-state-occupation")

# %% [markdown]
# ## Fig07 · Stalking recorded as another offence, by year

# %%
mis = mischarging_table(cases, by="financial_year", stage="recorded")
ax = plot_mischarging(mis, stage="recorded")
ax.set_title("Stalking reports first recorded as another offence")
ax.legend(title="Offence", loc="center right", bbox_to_anchor=(1.0, 0.6))
publish(ax.figure, "Fig07_mischarging-by-year")

# %% [markdown]
# ## Fig08 · Dedicated stalking officers: naive vs adjusted

# %%
rows = []
for outcome_name in ("charged", "convicted"):
    frame, covs, notes = officer_design(cases, data.forces, outcome_name)
    if frame is None:
        break
    est = officer_effect(frame, data.forces, outcome=outcome_name, method="glm_cluster", covariates=covs,
                         random_state=seed)
    rows.append(est[est["measure"] == "risk_ratio"].assign(label=lambda d, o=outcome_name: o + ": " + d["analysis"]))
if rows:
    ax = forest_plot(pd.concat(rows).set_index("label"), null=1.0)
    ax.set_xlabel("Risk ratio, dedicated officer vs none (95% CI, log scale)")
    ax.set_title("Effect of a dedicated stalking officer")
    display(publish(ax.figure, "Fig08_officer-effects"))
else:
    skip("Fig08_officer-effects", notes[0], "pass --forces PATH (docs/data-standard.md, 'The force-year table')")

# %% [markdown]
# ## Fig09–10 · Stalking Protection Orders: the two target trials, hazard ratios and risk ratios, risk curves

# %%
fits, truths = {}, {}
for trial in TRIALS:
    model, notes = spo_trial_on_data(cases, trial, n_boot=200, random_state=seed)
    if model is None:
        skip(f"SPO target trial {trial} (Fig09, Fig10)", notes[-1])
        continue
    fits[trial] = model
    truths[trial] = true_trial_risks(trial, data, random_state=seed) if data.synthetic else None
try:
    hr = spo_hazard_ratios(cases, data.truth if data.synthetic else None)
except (DataValidationError, ConvergenceError) as err:
    hr = None
    skip("Hazard ratios of an SPO in force (Fig09)", str(err).splitlines()[0])
if fits:
    axes = plot_spo_effects(hr, trial_effects_table(fits, truths))
    axes[0].figure.suptitle("Stalking Protection Orders: hazard ratios and risk ratios")
    display(publish(axes[0].figure, "Fig09_spo-effects"))

# %%
if fits:
    axes = plot_trial_risk_curves(fits)
    axes[0, 0].figure.suptitle("SPO target trials: risk under each strategy (clone–censor–weight, 95% bootstrap bands)")
    axes[0, 0].figure.tight_layout(rect=(0, 0, 1, 0.96))
    display(publish(axes[0, 0].figure, "Fig10_spo-risk-curves"))

# %% [markdown]
# ## The files written

# %%
import pathlib

files = sorted(p.name for p in pathlib.Path(out_dir).glob("Fig*") if p.stem in written)
print(len(files), "files:")
print("\n".join(files))
