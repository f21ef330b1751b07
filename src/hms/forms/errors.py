"""Domain errors of the forms module."""

from hms.core.errors import Conflict, NotFound, RuleViolation


class NursingAssessmentExists(Conflict):
    """409: the visit already has its SH.MR.FRM.05; edit it with PUT."""

    code = "nursing_assessment_exists"


class FormNotFound(NotFound):
    """404: the visit has no such form yet."""

    code = "form_not_found"


class CompletedFormToDraft(RuleViolation):
    """422: a completed (or amended) form cannot be turned back into a draft."""

    code = "completed_form_cannot_become_draft"


class ContrastAllergyPremedicationRequired(RuleViolation):
    """422: contrast for a patient with a known contrast allergy, premedication not confirmed.

    Source: ACR Manual on Contrast Media 2024, "Patient selection and preparation
    strategies" (prior allergic-like reaction to the same contrast class is the main risk
    factor; premedication or an alternative is advised).
    """

    code = "contrast_allergy_premedication_required"


class ContrastRenalRiskUnacknowledged(RuleViolation):
    """422: iodinated or gadolinium contrast at eGFR < 30 mL/min/1.73 m² not acknowledged.

    Source: ACR Manual on Contrast Media 2024, "Post-contrast acute kidney injury and
    contrast-induced nephropathy in adults" (eGFR < 30 is the risk threshold) and
    "Nephrogenic systemic fibrosis" (eGFR < 30 is the at-risk group for gadolinium).
    """

    code = "contrast_renal_risk_unacknowledged"


class GadoliniumPregnancyUnacknowledged(RuleViolation):
    """422: gadolinium contrast for a pregnant patient without the physician's
    acknowledgement.

    Source: ACR Manual on Contrast Media 2024, "Administration of contrast media to pregnant
    or potentially pregnant patients" (gadolinium only when essential, after a documented
    risk-benefit decision; iodinated contrast need not be withheld).
    """

    code = "gadolinium_pregnancy_unacknowledged"
