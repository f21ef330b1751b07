"""Pydantic schemas of the forms module: SH.MR.FRM.05 (nursing assessment) and SH.MR.FRM.04
(radiology assessment), and the form submission record both leave behind.

Input models forbid unknown fields, so a client that sends a server-computed value (a Morse
total, a BMI) gets a 422 naming it instead of believing it was stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from hms.clinical.schemas import VitalSignsInput, VitalSignsRead
from hms.forms.scoring import AmbulatoryAid, FallRiskBand, Gait, MentalStatus

NURSING_FORM_CODE = "SH.MR.FRM.05"
RADIOLOGY_FORM_CODE = "SH.MR.FRM.04"
FORM_VERSION = "1.0"

# The six vital signs of seed 000 a completed nursing assessment must carry (weight and
# height stay optional; BMI is derived when both are given).
REQUIRED_VITALS: tuple[str, ...] = (
    "temperature_celsius",
    "pulse_bpm",
    "blood_pressure_systolic",
    "blood_pressure_diastolic",
    "respiratory_rate_per_min",
    "oxygen_saturation_percent",
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


Short100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=100)]
Short200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200)]


class FormStatus(StrEnum):
    """Status of a form submission: ``draft`` (may be incomplete), ``completed``, or
    ``amended`` (a completed form edited afterwards; earlier answers are kept)."""

    DRAFT = "draft"
    COMPLETED = "completed"
    AMENDED = "amended"


class FormSubmissionRead(BaseModel):
    """One filled form [QuestionnaireResponse]: which form, its status, who and when."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    visit_id: uuid.UUID
    patient_id: uuid.UUID
    form_code: str = Field(description="SH.MR.FRM.05 or SH.MR.FRM.04")
    form_version: str
    status: FormStatus
    submitted_by: uuid.UUID | None
    submitted_at: datetime
    updated_by: uuid.UUID | None
    updated_at: datetime
    version: int = Field(description="Row version; send it back as If-Match or `version`")


class FormAmendmentRead(BaseModel):
    """The answers a form held before one edit."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    submission_id: uuid.UUID
    previous_version: int
    previous_answers: dict[str, Any]
    amended_by: uuid.UUID | None
    amended_at: datetime
    reason: str | None


# ---------------------------------------------------------------- SH.MR.FRM.05


class PainAssessmentInput(BaseModel):
    """Pain on the 0-10 numeric rating scale (0 no pain, 10 worst imaginable)."""

    model_config = ConfigDict(extra="forbid")

    pain_score: int = Field(..., ge=0, le=10, description="Numeric rating scale, 0-10")
    site: Short200 | None = None
    character: Short100 | None = Field(
        None, description="e.g. sharp, dull, burning, throbbing")
    onset: Short100 | None = Field(
        None, description="e.g. sudden, gradual, 2 hours ago")
    duration: Short100 | None = None


class PainAssessmentRead(PainAssessmentInput):
    """Stored pain assessment."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")


class FallRiskInput(BaseModel):
    """The six Morse Fall Scale items; the server computes the total and the band.

    Source: Morse JM, Morse RM, Tylko SJ (1989), Can J Aging 8(4):366-377.
    """

    model_config = ConfigDict(extra="forbid")

    history_of_falling: bool = Field(
        ..., description="Fell during this admission or within 3 months (yes 25)")
    secondary_diagnosis: bool = Field(
        ..., description="More than one medical diagnosis (yes 15)")
    ambulatory_aid: AmbulatoryAid = Field(
        ..., description="none/bed_rest/wheelchair/nurse_assist 0; crutches/cane/walker 15; "
                         "furniture 30")
    iv_therapy: bool = Field(..., description="IV therapy or heparin lock (yes 20)")
    gait: Gait = Field(
        ..., description="normal/bed_rest/wheelchair/immobile 0; weak 10; impaired 20")
    mental_status: MentalStatus = Field(
        ..., description="oriented_to_own_ability 0; forgets_limitations 15")


class FallRiskRead(FallRiskInput):
    """Stored Morse Fall Scale with the server-computed total (0-125) and band."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    total_score: int = Field(description="Morse total, 0-125")
    risk_level: FallRiskBand = Field(description="low 0-24, moderate 25-44, high 45+")


class NursingAssessmentCreate(BaseModel):
    """Body of ``POST /visits/{visit_id}/nursing-assessment`` (form SH.MR.FRM.05).

    A ``completed`` form (the default) needs ``vital_signs`` with the six seed vitals,
    ``pain_assessment`` and ``fall_risk_assessment``; a ``draft`` may leave sections out.
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["draft", "completed"] = Field(
        "completed", description="draft may be incomplete; completed needs every section")
    vital_signs: VitalSignsInput | None = None
    pain_assessment: PainAssessmentInput | None = None
    fall_risk_assessment: FallRiskInput | None = None
    notes: Text | None = None


class NursingAssessmentUpdate(NursingAssessmentCreate):
    """Body of ``PUT /visits/{visit_id}/nursing-assessment``: the whole form again.

    Send the version you read as ``version`` or as an ``If-Match`` header. Editing a
    completed form keeps its previous answers as an amendment.
    """

    version: int | None = Field(None, ge=1, description="Version read; or send If-Match")
    amendment_reason: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=1000)
    ] | None = Field(None, description="Why a completed form is being changed")


class NursingAssessmentRead(BaseModel):
    """SH.MR.FRM.05 as returned by the API, with server-computed BMI and Morse score."""

    id: uuid.UUID
    visit_id: uuid.UUID
    patient_id: uuid.UUID
    submission: FormSubmissionRead
    vital_signs: VitalSignsRead | None = Field(
        description="Includes bmi (kg/m², 1 decimal) when weight and height are given")
    pain_assessment: PainAssessmentRead | None
    fall_risk_assessment: FallRiskRead | None
    notes: str | None
    assessed_by: uuid.UUID | None
    assessed_at: datetime
    amendments: list[FormAmendmentRead] = Field(
        default_factory=list, description="Earlier answers of this form, oldest first")


# ---------------------------------------------------------------- SH.MR.FRM.04


class Modality(StrEnum):
    """Imaging modality. The labels commonly used on radiology request forms; DICOM
    (0008,0060) codes are accepted as aliases: CR/DX -> XR, PT -> PET, RF -> FL,
    BMD -> DXA, OT -> other. Lower case is accepted."""

    XR = "XR"
    CT = "CT"
    MR = "MR"
    US = "US"
    NM = "NM"
    PET = "PET"
    MG = "MG"
    FL = "FL"
    DXA = "DXA"
    OTHER = "other"


_MODALITY_ALIASES = {
    "CR": "XR", "DX": "XR", "PT": "PET", "RF": "FL", "BMD": "DXA", "OT": "other",
    "OTHER": "other", "MRI": "MR",
}


def _normalize_modality(value: Any) -> Any:
    if isinstance(value, str):
        upper = value.strip().upper()
        return _MODALITY_ALIASES.get(upper, upper)
    return value


class ContrastType(StrEnum):
    """Class of contrast medium: it decides which safety rules apply (renal function matters
    for intravascular iodinated and gadolinium-based agents)."""

    IODINATED = "iodinated"
    GADOLINIUM = "gadolinium"
    BARIUM = "barium"
    MICROBUBBLE = "microbubble"
    OTHER = "other"


# Contrast classes for which the renal function screening is required.
RENAL_SCREENED_CONTRAST = frozenset({ContrastType.IODINATED, ContrastType.GADOLINIUM,
                                     ContrastType.OTHER})


class PregnancyStatus(StrEnum):
    """Pregnancy screening answer; ``pregnant`` is refused for a male patient."""

    PREGNANT = "pregnant"
    NOT_PREGNANT = "not_pregnant"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


class RadiologyAssessmentCreate(BaseModel):
    """Body of ``POST /visits/{visit_id}/radiology-assessment`` (form SH.MR.FRM.04).

    With ``contrast_used`` the safety screening is required: ``contrast_type``,
    ``contrast_agent``, ``contrast_allergy``, ``pregnancy_status`` and, for iodinated,
    gadolinium or other intravascular agents, renal function (``egfr_ml_min_1_73m2`` and/or
    ``serum_creatinine_mg_dl``). The acknowledgement flags let a physician proceed past a
    safety rule knowingly; they are stored with the form.
    """

    model_config = ConfigDict(extra="forbid")

    modality: Annotated[Modality, BeforeValidator(_normalize_modality)]
    body_region: Short100
    clinical_indication: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                          max_length=4000)]
    contrast_used: bool = False
    contrast_type: ContrastType | None = None
    contrast_agent: Short100 | None = Field(
        None, description="Agent name, e.g. iohexol, gadoterate")
    contrast_allergy: bool | None = Field(
        None, description="Known prior allergic-like reaction to contrast")
    egfr_ml_min_1_73m2: float | None = Field(None, ge=0, le=200)
    serum_creatinine_mg_dl: float | None = Field(None, ge=0.1, le=20)
    pregnancy_status: PregnancyStatus | None = None
    premedication_confirmed: bool = Field(
        False, description="Premedication given/confirmed for a patient with contrast allergy")
    renal_risk_acknowledged: bool = Field(
        False, description="Proceed with iodinated/gadolinium contrast at eGFR < 30")
    pregnancy_risk_acknowledged: bool = Field(
        False, description="Proceed with gadolinium contrast in a pregnant patient")
    findings: Text | None = None
    impression: Text | None = None
    recommendation: Text | None = None

    def screening_errors(self) -> list[dict[str, str]]:
        """Fields the contrast screening needs but the body lacks (or contradicts).

        Returns:
            One ``{field, in, message, type}`` entry per problem; empty when complete.
        """
        errors: list[dict[str, str]] = []

        def add(field: str, message: str, kind: str = "missing") -> None:
            errors.append({"field": field, "in": "body", "message": message, "type": kind})

        if not self.contrast_used:
            for name in ("contrast_type", "contrast_agent"):
                if getattr(self, name) is not None:
                    add(name, "only allowed when contrast_used is true", "value_error")
            return errors
        if self.contrast_type is None:
            add("contrast_type", "required when contrast_used is true")
        if self.contrast_agent is None:
            add("contrast_agent", "required when contrast_used is true")
        if self.contrast_allergy is None:
            add("contrast_allergy", "required when contrast_used is true")
        if self.pregnancy_status is None:
            add("pregnancy_status", "required when contrast_used is true")
        renal_needed = self.contrast_type is None or self.contrast_type in RENAL_SCREENED_CONTRAST
        if renal_needed and self.egfr_ml_min_1_73m2 is None and (
            self.serum_creatinine_mg_dl is None
        ):
            add("egfr_ml_min_1_73m2",
                "renal function required with this contrast: give egfr_ml_min_1_73m2 "
                "and/or serum_creatinine_mg_dl")
        return errors


class RadiologyAssessmentRead(BaseModel):
    """SH.MR.FRM.04 as returned by the API."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    visit_id: uuid.UUID
    patient_id: uuid.UUID
    submission: FormSubmissionRead
    modality: Modality
    body_region: str
    clinical_indication: str
    contrast_used: bool
    contrast_type: ContrastType | None
    contrast_agent: str | None
    contrast_allergy: bool | None
    egfr_ml_min_1_73m2: float | None
    serum_creatinine_mg_dl: float | None
    pregnancy_status: PregnancyStatus | None
    premedication_confirmed: bool | None
    renal_risk_acknowledged: bool | None
    pregnancy_risk_acknowledged: bool | None
    findings: str | None
    impression: str | None
    recommendation: str | None
    assessed_by: uuid.UUID | None
    assessed_at: datetime
