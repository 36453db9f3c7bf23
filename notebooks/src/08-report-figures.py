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
from attrition.effects import (officer_design, officer_effect, officer_hazard_ratio, plot_officer_effects,
                               plot_spo_effects, plot_trial_risk_curves, spo_hazard_ratios, spo_trial_on_data,
                               trial_effects_table, true_trial_risks)
from attrition.effects.trials import TRIALS
from attrition.exceptions import AttritionError, ConvergenceError, DataValidationError, DisclosureWarning
from attrition.figures import publish_figure, set_provenance
from attrition.headlines import published_figures
from attrition.funnel import FunnelFitter, fit_force_funnel
from attrition.mischarging import mischarging_table, plot_mischarging_stages
from attrition.plotting import REASON_COLOURS, REASON_LABELS, use_style
from attrition.report import skip
from attrition.survival import (JOURNEY_TRANSITIONS, MultiStateFitter, cumulative_incidence, journey_sojourns,
                                plot_exits_and_outcome, plot_state_occupation)

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
# small exit segments pooled, small stages shown as [c]; the stages from charge on enlarged in a second panel
ax = funnel.plot(withhold_below=DISCLOSURE_THRESHOLD, late_from="charged")
publish(ax.figure, "Fig01_national-funnel", suppressed=counts)

# %% [markdown]
# ## Fig02 · Where and why reports are lost

# %%
publish(funnel.plot_decomposition().figure, "Fig02_loss-by-stage-and-reason")

# %% [markdown]
# ## Fig03 · Charging after a suspect is identified, by force (partial pooling)

# %%
by_force = fit_force_funnel(cases, data.forces, alpha=0.05)  # pooled as in notebook 03
raw = by_force.published_counts("suspect_identified")  # a raw rate reveals its counts: small ones withheld
ax = by_force.caterpillar_plot(stage="suspect_identified", withhold=raw.loc[raw["suppressed"], "group"])
publish(ax.figure, "Fig03_force-charge-rates", suppressed=raw)

# %% [markdown]
# ## Fig04 · SPO applications per 1,000 stalking offences recorded, by force, last financial year
# Raw counts mostly measure a force's size, so applications are divided by the stalking offences the force
# recorded that year. Bars are coloured by the bands the published FOI study used for the count of applications
# (10 or fewer, 11 to 30, more than 30); counts of 1 to 9 (and any count that would reveal one) are withheld.

# %%
last_year = cases["financial_year"].max()
if not data.events["event"].isin(["spo_interim_applied", "spo_full_applied"]).any():
    skip("Fig04_spo-applications-by-force", "the data hold no SPO application events")
else:
    rates = trends.spo_application_rates(data.events, cases, last_year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        rates = suppress_small_counts(rates, ["applications", "offences"], derived={"rate": ["applications", "offences"]})
    foi = published_figures()["value"]
    foi_bands = [int(float(foi[f"forces_spo_applications_{b}"])) for b in ("le10", "11_30", "gt30")]
    ax = trends.plot_spo_application_rates(rates, published_bands=foi_bands)
    ax.set_title(f"Stalking Protection Order applications per 1,000 stalking offences recorded, by force, {last_year}")
    display(publish(ax.figure, "Fig04_spo-applications-by-force", suppressed=rates,
                    count_cols=["applications", "offences"]))

# %% [markdown]
# ## Fig05 · Why and when reports leave, by days since report (competing risks)
# A conviction for stalking ends the journey but is not attrition: it has its own panel and is not stacked
# among the reports that left.

# %%
outcome = (cases["exit_reason"].astype(object).where(cases["status"] != "convicted", "convicted")
           .where(cases["status"] != "open", "open"))
cif = cumulative_incidence(cases["duration"], outcome, alpha=0.05, censor_code="open")
axes = plot_exits_and_outcome(cif, outcome="convicted", horizon=730,
                              labels={**REASON_LABELS, "convicted": "Convicted of stalking"},
                              title="How stalking reports leave the criminal-justice journey, by days since report")
publish(axes[0].figure, "Fig05_exit-reasons-by-time-since-report")

# %% [markdown]
# ## Fig06 · The multi-state journey

# %%
msf = MultiStateFitter(JOURNEY_TRANSITIONS, alpha=0.05).fit(journey_sojourns(cases))
ax = plot_state_occupation(msf, title="Where reports are, by days since report (first year)")
ax.set_xlim(0, 365)
publish(ax.figure, "Fig06_journey-state-occupation")

# %% [markdown]
# ## Fig07 · Stalking recorded or charged as another offence, by year

# %%
mis = mischarging_table(cases, by="financial_year", stage=["recorded", "final", "charged"])
axes = plot_mischarging_stages(mis)
publish(axes[0].figure, "Fig07_mischarging-by-year")

# %% [markdown]
# ## Fig08 · Dedicated stalking officers: naive vs adjusted
# Risk ratios (ever charged, ever convicted of stalking) and the hazard ratio of a charge (per day since the
# suspect was identified) on separate panels; on synthetic data the generator's true values are marked. The
# hazard ratio's force-clustered intervals are too narrow with 7 forces exposed (84% coverage of 95% intervals
# in 100 simulated datasets, `tests/studies/officer_hr_coverage.py`).

# %%
rows = []
for outcome_name in ("charged", "convicted"):
    frame, covs, notes = officer_design(cases, data.forces, outcome_name)
    if frame is None:
        break
    est = officer_effect(frame, data.forces, outcome=outcome_name, method="glm_cluster", covariates=covs,
                         random_state=seed)
    rows.append(est[est["measure"] == "risk_ratio"].assign(outcome=outcome_name))
if rows:
    frame, covs, _ = officer_design(cases, data.forces, "charged")
    hr = officer_hazard_ratio(frame, data.forces, covariates=covs)
    truth = ({"charged": data.truth["officer_charged_rr"], "convicted": data.truth["officer_convicted_rr"],
              "hazard_ratio": data.truth["officer_hr_charge"]} if data.synthetic else None)
    axes = plot_officer_effects(pd.concat(rows), hr, truth=truth)
    axes[0].figure.suptitle("Effect of a dedicated stalking officer: naive vs adjusted for case mix and force size")
    display(publish(axes[0].figure, "Fig08_officer-effects"))
else:
    skip("Fig08_officer-effects", notes[0], "pass --forces PATH (docs/data-standard.md, 'The force-year table')")

# %% [markdown]
# ## Fig09–10 · Stalking Protection Orders: the three target trials, hazard ratios and risk ratios, risk curves

# %%
fits, truths = {}, {}
for trial in TRIALS:
    model, notes = spo_trial_on_data(cases, trial, n_boot=200, random_state=seed)
    if model is None:
        skip(f"SPO target trial {trial} (Fig09, Fig10)", notes[-1],
             "an extract with more SPO needs and applications (more forces or years)")
        continue
    fits[trial] = model
    truths[trial] = true_trial_risks(trial, data, random_state=seed) if data.synthetic else None
try:
    hr = spo_hazard_ratios(cases, data.truth if data.synthetic else None)
except (DataValidationError, ConvergenceError) as err:
    hr = None
    skip("Hazard ratios of an SPO in force (Fig09)", str(err).splitlines()[0])
if fits:
    try:
        axes = plot_spo_effects(hr, trial_effects_table(fits, truths))
    except DataValidationError as err:
        skip("Fig09 (SPO effects)", str(err))
    else:
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
