"""Negative control for the officer analysis: identifying a suspect, which the officer cannot change in the
synthetic model, shows no effect; the positive outcome (charge) does."""
from attrition.effects import negative_control_check, officer_effect
from attrition.synthetic import simulate


def test_officer_negative_control_outcome():
    d = simulate(n_cases=100_000, random_state=11)
    cases = d.cases.assign(suspect_found=d.cases["days_to_suspect_identified"].notna())

    def estimator(df, outcome):
        return officer_effect(df, d.forces, outcome=outcome, method="glm_cluster", naive=False).set_index("measure")

    nc = negative_control_check(estimator, cases, "suspect_found")
    # suspect identification varies between forces with their investigative quality (as charging does), so
    # the estimate is noisier than a case-level null: the interval covers 0 and the estimate is small
    assert bool(nc["covers_null"]) and abs(nc["estimate"]) < 0.05
    pc = negative_control_check(estimator, cases, "charged")  # a real effect is not mistaken for a null
    assert not bool(pc["covers_null"]) and pc["estimate"] > 0
