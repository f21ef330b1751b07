"""Morse Fall Scale and CKD-EPI 2021, as pure functions."""

from __future__ import annotations

import itertools

import pytest

from hms.forms.scoring import (
    AmbulatoryAid,
    FallRiskBand,
    Gait,
    MentalStatus,
    egfr_ckd_epi_2021,
    morse_fall_score,
    morse_risk_band,
)


def _score(**items: object) -> int:
    base: dict[str, object] = {
        "history_of_falling": False, "secondary_diagnosis": False,
        "ambulatory_aid": AmbulatoryAid.NONE, "iv_therapy": False, "gait": Gait.NORMAL,
        "mental_status": MentalStatus.ORIENTED_TO_OWN_ABILITY,
    }
    base.update(items)
    return morse_fall_score(**base)  # type: ignore[arg-type]


class TestMorseItems:
    @pytest.mark.parametrize(("item", "value", "points"), [
        ("history_of_falling", True, 25),
        ("secondary_diagnosis", True, 15),
        ("iv_therapy", True, 20),
        ("ambulatory_aid", AmbulatoryAid.NONE, 0),
        ("ambulatory_aid", AmbulatoryAid.BED_REST, 0),
        ("ambulatory_aid", AmbulatoryAid.WHEELCHAIR, 0),
        ("ambulatory_aid", AmbulatoryAid.NURSE_ASSIST, 0),
        ("ambulatory_aid", AmbulatoryAid.CRUTCHES, 15),
        ("ambulatory_aid", AmbulatoryAid.CANE, 15),
        ("ambulatory_aid", AmbulatoryAid.WALKER, 15),
        ("ambulatory_aid", AmbulatoryAid.FURNITURE, 30),
        ("gait", Gait.NORMAL, 0),
        ("gait", Gait.BED_REST, 0),
        ("gait", Gait.WHEELCHAIR, 0),
        ("gait", Gait.IMMOBILE, 0),
        ("gait", Gait.WEAK, 10),
        ("gait", Gait.IMPAIRED, 20),
        ("mental_status", MentalStatus.ORIENTED_TO_OWN_ABILITY, 0),
        ("mental_status", MentalStatus.FORGETS_LIMITATIONS, 15),
    ])
    def test_each_item_scores_its_points(self, item, value, points):
        assert _score(**{item: value}) == points

    def test_no_risk_factor_scores_zero(self):
        assert _score() == 0

    def test_maximum_is_125(self):
        assert _score(history_of_falling=True, secondary_diagnosis=True,
                      ambulatory_aid=AmbulatoryAid.FURNITURE, iv_therapy=True,
                      gait=Gait.IMPAIRED, mental_status=MentalStatus.FORGETS_LIMITATIONS) == 125

    def test_example_totals_100(self):
        assert _score(history_of_falling=True, secondary_diagnosis=True,
                      ambulatory_aid=AmbulatoryAid.WALKER, iv_therapy=True, gait=Gait.WEAK,
                      mental_status=MentalStatus.FORGETS_LIMITATIONS) == 100

    def test_plain_string_choices_are_accepted(self):
        assert _score(ambulatory_aid="furniture", gait="impaired") == 50

    def test_every_combination_stays_within_0_and_125(self):
        totals = {
            _score(history_of_falling=h, secondary_diagnosis=s, ambulatory_aid=a,
                   iv_therapy=i, gait=g, mental_status=m)
            for h, s, a, i, g, m in itertools.product(
                (False, True), (False, True), AmbulatoryAid, (False, True), Gait, MentalStatus)
        }
        assert min(totals) == 0 and max(totals) == 125
        assert all(t % 5 == 0 for t in totals)


class TestMorseBands:
    @pytest.mark.parametrize(("total", "band"), [
        (0, FallRiskBand.LOW), (24, FallRiskBand.LOW),
        (25, FallRiskBand.MODERATE), (44, FallRiskBand.MODERATE),
        (45, FallRiskBand.HIGH), (100, FallRiskBand.HIGH), (125, FallRiskBand.HIGH),
    ])
    def test_band_boundaries(self, total, band):
        assert morse_risk_band(total) is band

    @pytest.mark.parametrize("total", [-1, 126])
    def test_total_outside_scale_is_a_programming_error(self, total):
        with pytest.raises(ValueError, match=r"0\.\.125"):
            morse_risk_band(total)


class TestEgfrCkdEpi2021:
    def test_male_60_creatinine_1_0(self):
        # 142 x (1.0/0.9)^-1.200 x 0.9938^60 = 86.2 mL/min/1.73 m2
        assert egfr_ckd_epi_2021(1.0, 60, "male") == pytest.approx(86.2, abs=0.1)

    def test_female_50_creatinine_0_7(self):
        # 142 x 1 x 1 x 0.9938^50 x 1.012 = 105.3
        assert egfr_ckd_epi_2021(0.7, 50, "female") == pytest.approx(105.3, abs=0.1)

    def test_female_below_kappa_uses_alpha(self):
        # 142 x (0.5/0.7)^-0.241 x 0.9938^40 x 1.012 = 121.5
        assert egfr_ckd_epi_2021(0.5, 40, "female") == pytest.approx(121.5, abs=0.1)

    def test_high_creatinine_gives_low_egfr(self):
        value = egfr_ckd_epi_2021(4.0, 70, "male")
        assert value is not None and value < 30

    @pytest.mark.parametrize(("scr", "age", "sex"), [
        (1.0, 17, "male"), (1.0, 40, "other"), (1.0, 40, "unknown"), (0.0, 40, "male"),
    ])
    def test_not_estimated_for_children_unknown_sex_or_no_creatinine(self, scr, age, sex):
        assert egfr_ckd_epi_2021(scr, age, sex) is None
