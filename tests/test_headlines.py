"""Published figures recomputed from a case table."""
import pytest

from attrition.data import to_cases, validate_events
from attrition.headlines import headline_figures


def test_headline_figures_on_hand_built_cases(hand_events):
    cases = to_cases(validate_events(hand_events, today="2022-07-01").valid, as_of="2022-07-01")
    h = headline_figures(cases, financial_year="2021/22")
    # 2021/22 (Apr 2021-Mar 2022) reports: C1-C6; charged C1, C5, C6; HO 15: C3; convicted of stalking: C1
    assert h.loc["charge_rate_reports", ["cases", "reports"]].tolist() == [3, 6]
    assert h.loc["evidential_drop_victim_supports_share", "cases"] == 1
    assert h.loc["conviction_rate_reports", "estimate"] == pytest.approx(1 / 6)
    assert h.loc["charge_rate_reports", "published"] == 0.05
    with pytest.raises(ValueError, match="years present"):
        headline_figures(cases, financial_year="2030/31")
