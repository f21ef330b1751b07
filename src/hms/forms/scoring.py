"""Clinical scores of the forms module: pure functions, no I/O.

BMI is derived where vital signs are stored (``hms.clinical.service``), not here.

- Morse Fall Scale (SH.MR.FRM.05 fall-risk section).
- eGFR from serum creatinine, CKD-EPI 2021 (SH.MR.FRM.04 contrast screening, used only when
  the physician gave a creatinine but no eGFR).
"""

from __future__ import annotations

from enum import StrEnum

MORSE_MAX_SCORE = 125
MORSE_MODERATE_FROM = 25
MORSE_HIGH_FROM = 45


class AmbulatoryAid(StrEnum):
    """Morse item 3, ambulatory aid. ``none``, ``bed_rest``, ``wheelchair`` and
    ``nurse_assist`` score 0; ``crutches``, ``cane`` and ``walker`` 15; ``furniture``
    (clutching furniture to walk) 30."""

    NONE = "none"
    BED_REST = "bed_rest"
    WHEELCHAIR = "wheelchair"
    NURSE_ASSIST = "nurse_assist"
    CRUTCHES = "crutches"
    CANE = "cane"
    WALKER = "walker"
    FURNITURE = "furniture"


class Gait(StrEnum):
    """Morse item 5, gait/transferring. ``normal``, ``bed_rest``, ``wheelchair`` and
    ``immobile`` score 0; ``weak`` 10; ``impaired`` 20."""

    NORMAL = "normal"
    BED_REST = "bed_rest"
    WHEELCHAIR = "wheelchair"
    IMMOBILE = "immobile"
    WEAK = "weak"
    IMPAIRED = "impaired"


class MentalStatus(StrEnum):
    """Morse item 6, mental status. ``oriented_to_own_ability`` scores 0;
    ``forgets_limitations`` (overestimates or forgets own limitations) 15."""

    ORIENTED_TO_OWN_ABILITY = "oriented_to_own_ability"
    FORGETS_LIMITATIONS = "forgets_limitations"


class FallRiskBand(StrEnum):
    """Morse risk band: ``low`` 0-24, ``moderate`` 25-44, ``high`` 45 and above."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


_AID_POINTS: dict[AmbulatoryAid, int] = {
    AmbulatoryAid.NONE: 0,
    AmbulatoryAid.BED_REST: 0,
    AmbulatoryAid.WHEELCHAIR: 0,
    AmbulatoryAid.NURSE_ASSIST: 0,
    AmbulatoryAid.CRUTCHES: 15,
    AmbulatoryAid.CANE: 15,
    AmbulatoryAid.WALKER: 15,
    AmbulatoryAid.FURNITURE: 30,
}

_GAIT_POINTS: dict[Gait, int] = {
    Gait.NORMAL: 0,
    Gait.BED_REST: 0,
    Gait.WHEELCHAIR: 0,
    Gait.IMMOBILE: 0,
    Gait.WEAK: 10,
    Gait.IMPAIRED: 20,
}

_MENTAL_POINTS: dict[MentalStatus, int] = {
    MentalStatus.ORIENTED_TO_OWN_ABILITY: 0,
    MentalStatus.FORGETS_LIMITATIONS: 15,
}


def morse_fall_score(
    *,
    history_of_falling: bool,
    secondary_diagnosis: bool,
    ambulatory_aid: AmbulatoryAid,
    iv_therapy: bool,
    gait: Gait,
    mental_status: MentalStatus,
) -> int:
    """Total of the six Morse Fall Scale items.

    Args:
        history_of_falling: fell during this admission or within the last 3 months
            (no 0 / yes 25).
        secondary_diagnosis: more than one medical diagnosis on the chart (no 0 / yes 15).
        ambulatory_aid: none, bed rest, wheelchair or nurse assist 0; crutches, cane or
            walker 15; furniture 30.
        iv_therapy: intravenous therapy or heparin (saline) lock in place (no 0 / yes 20).
        gait: normal, bed rest, wheelchair or immobile 0; weak 10; impaired 20.
        mental_status: oriented to own ability 0; overestimates or forgets limitations 15.

    Returns:
        The total, an integer in 0..125.

    Source: Morse JM, Morse RM, Tylko SJ (1989) "Development of a scale to identify the
    fall-prone patient", Canadian Journal on Aging 8(4):366-377.
    """
    return (
        (25 if history_of_falling else 0)
        + (15 if secondary_diagnosis else 0)
        + _AID_POINTS[AmbulatoryAid(ambulatory_aid)]
        + (20 if iv_therapy else 0)
        + _GAIT_POINTS[Gait(gait)]
        + _MENTAL_POINTS[MentalStatus(mental_status)]
    )


def morse_risk_band(total: int) -> FallRiskBand:
    """Risk band of a Morse Fall Scale total.

    Args:
        total: Morse total, 0..125.

    Returns:
        ``low`` for 0-24, ``moderate`` for 25-44, ``high`` for 45 and above.

    Raises:
        ValueError: ``total`` outside 0..125 (a programming error, never user input:
            the server computes the total).

    Source: Morse JM, Morse RM, Tylko SJ (1989) "Development of a scale to identify the
    fall-prone patient", Canadian Journal on Aging 8(4):366-377; cut-offs 25 and 45 as
    commonly used with the scale (the hospital's SH.MR.FRM.05 bands).
    """
    if not 0 <= total <= MORSE_MAX_SCORE:
        raise ValueError("Morse total must be within 0..125")
    if total >= MORSE_HIGH_FROM:
        return FallRiskBand.HIGH
    if total >= MORSE_MODERATE_FROM:
        return FallRiskBand.MODERATE
    return FallRiskBand.LOW


def egfr_ckd_epi_2021(serum_creatinine_mg_dl: float, age_years: int, sex: str) -> float | None:
    """Estimated glomerular filtration rate from serum creatinine (race-free CKD-EPI 2021).

    ``eGFR = 142 * min(Scr/k, 1)^a * max(Scr/k, 1)^-1.200 * 0.9938^age * 1.012 [female]``
    with k = 0.7 (female) / 0.9 (male) and a = -0.241 (female) / -0.302 (male).

    Args:
        serum_creatinine_mg_dl: serum creatinine in mg/dL (> 0).
        age_years: age in whole years; the equation is validated for adults only.
        sex: ``"male"`` or ``"female"``; anything else cannot be estimated.

    Returns:
        eGFR in mL/min/1.73 m², rounded to 1 decimal; ``None`` for a child (< 18 years),
        an unknown sex or a non-positive creatinine.

    Source: Inker LA, Eneanya ND, Coresh J, et al. (2021) "New creatinine- and cystatin
    C-based equations to estimate GFR without race", N Engl J Med 385:1737-1749.
    """
    if serum_creatinine_mg_dl <= 0 or age_years < 18 or sex not in ("male", "female"):
        return None
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = serum_creatinine_mg_dl / kappa
    value = (
        142.0
        * min(ratio, 1.0) ** alpha
        * max(ratio, 1.0) ** -1.200
        * 0.9938**age_years
        * (1.012 if female else 1.0)
    )
    return round(value, 1)
