"""Vital-sign Observations -> vital_signs rows (pure functions).

Observations in the vital-signs category with a LOINC code hms stores are grouped by
patient, encounter and effective time into one row; each value is converted to its column's
unit; a value outside the range the API enforces (VitalSignsInput) is left out with a
counted warning instead of failing the import. BMI (39156-5) is read but not stored: the
server derives it from weight and height.

Source: HL7 FHIR R4 vital-signs profile (hl7.org/fhir/R4/observation-vitalsigns.html) for
the LOINC codes; 8331-1 (oral temperature) and 55284-4 (blood pressure) as Synthea files
them; UCUM for the units and their conversion factors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.quantity import Quantity
from pydantic import ValidationError

from hms.clinical.schemas import VitalSignsInput
from hms.fhir.parser import ParsedBundle
from hms.fhir.plan import ImportPlan, VitalsRecord
from hms.fhir.values import LOINC, loinc_codes, to_utc, visit_of


def _identity(x: float) -> float:
    return x


#: UCUM unit -> converter into the column's unit, per vital-signs field.
_UNITS: dict[str, dict[str, Callable[[float], float]]] = {
    "temperature_celsius": {"Cel": _identity, "[degF]": lambda f: (f - 32.0) * 5.0 / 9.0,
                            "K": lambda k: k - 273.15},
    "pulse_bpm": {"/min": _identity, "{beats}/min": _identity, "1/min": _identity},
    "respiratory_rate_per_min": {"/min": _identity, "{breaths}/min": _identity,
                                 "1/min": _identity},
    "oxygen_saturation_percent": {"%": _identity},
    "weight_kg": {"kg": _identity, "g": lambda g: g / 1000.0,
                  "[lb_av]": lambda lb: lb * 0.45359237,
                  "[oz_av]": lambda oz: oz * 0.028349523125},
    "height_cm": {"cm": _identity, "m": lambda m: m * 100.0, "mm": lambda mm: mm / 10.0,
                  "[in_i]": lambda i: i * 2.54, "[ft_i]": lambda ft: ft * 30.48},
    "blood_pressure_systolic": {"mm[Hg]": _identity},
    "blood_pressure_diastolic": {"mm[Hg]": _identity},
}
#: Decimal places kept per field (0 = stored as an integer).
_DECIMALS = {"temperature_celsius": 1, "pulse_bpm": 0, "respiratory_rate_per_min": 0,
             "oxygen_saturation_percent": 1, "weight_kg": 2, "height_cm": 1,
             "blood_pressure_systolic": 0, "blood_pressure_diastolic": 0}

#: LOINC code -> vital-signs field. Source: FHIR R4 vital-signs profile table; 8331-1 (oral
#: temperature) and 55284-4 (blood pressure, as Synthea files it) from the Synthea data.
LOINC_FIELDS = {
    "8310-5": "temperature_celsius",
    "8331-1": "temperature_celsius",
    "8867-4": "pulse_bpm",
    "9279-1": "respiratory_rate_per_min",
    "59408-5": "oxygen_saturation_percent",
    "2708-6": "oxygen_saturation_percent",
    "29463-7": "weight_kg",
    "8302-2": "height_cm",
    "8480-6": "blood_pressure_systolic",
    "8462-4": "blood_pressure_diastolic",
}
BP_PANELS = frozenset({"55284-4", "85354-9"})
#: Codes that are read but not stored: BMI is derived by the server from weight and height.
DERIVED_CODES = frozenset({"39156-5"})
_STORED_CODES = frozenset(LOINC_FIELDS) | BP_PANELS | DERIVED_CODES


def wants_observation(raw: dict[str, Any]) -> bool:
    """Whether a raw Observation is a vital sign hms stores (vital-signs category and a
    stored LOINC code), judged before validation so the others are not validated."""
    try:
        categories = {c.get("code") for cat in raw.get("category") or []
                      for c in cat.get("coding") or []}
        codes = {c.get("code") for c in (raw.get("code") or {}).get("coding") or []
                 if c.get("system") == LOINC}
    except AttributeError:  # malformed: let validation report it
        return True
    return "vital-signs" in categories and bool(codes & _STORED_CODES)


def map_vitals(bundle: ParsedBundle, plan: ImportPlan, patient_keys: set[str],
               visit_keys: dict[str, str]) -> None:
    """Add the bundle's vital signs to ``plan.vitals``: one row per patient, visit and
    effective time (UTC), source id ``<encounter or patient id>@<YYYYMMDDTHHMMSSZ>``.

    Args:
        patient_keys: bundle keys of the patients in the plan.
        visit_keys: bundle key of each planned visit -> its patient's key.

    Raises:
        InvalidBundle (422): a subject or encounter reference points outside the bundle.
    """
    groups: dict[tuple[str, str | None, datetime], dict[str, float]] = {}
    for entry in bundle.of_type("Observation"):
        obs = entry.resource
        if obs is None:  # not a stored vital sign (see wants_observation): not validated
            plan.skipped["Observation"] += 1
            continue
        assert isinstance(obs, Observation)
        where = f"Observation entry {entry.position}"
        values = _vital_values(obs, plan.warnings)
        if values is None:
            plan.skipped["Observation"] += 1
            continue
        subject = bundle.resolve(obs.subject, f"{where} subject")
        encounter = bundle.resolve(obs.encounter, f"{where} encounter", expected="Encounter")
        when = to_utc(obs.effectiveDateTime or (obs.effectivePeriod.start if obs.effectivePeriod
                                                else None) or obs.effectiveInstant or obs.issued)
        if subject is None or subject.key not in patient_keys or when is None:
            plan.skipped["Observation"] += 1
            plan.warnings["vital_signs.no_patient_or_time"] += 1
            continue
        visit_key = visit_of(encounter, subject.key, visit_keys, "vital_signs",
                             plan.warnings)
        group = groups.setdefault((subject.key, visit_key, when), {})
        for name, value in values.items():
            if name in group:
                plan.warnings[f"vital_signs.{name}.duplicate"] += 1
            else:
                group[name] = value
    anchors = {p.key: p.source_id for p in plan.patients}
    anchors.update({v.key: v.source_id for v in plan.visits})
    for (patient_key, visit_key, recorded_at), values in groups.items():
        data = _valid_vitals(values, plan.warnings)
        if data is None:
            plan.warnings["vital_signs.nothing_to_store"] += 1
            continue
        anchor = anchors[visit_key or patient_key]
        source_id = f"{anchor}@{recorded_at:%Y%m%dT%H%M%SZ}"
        plan.vitals.append(VitalsRecord(source_id=source_id[:100], patient_key=patient_key,
                                        visit_key=visit_key, recorded_at=recorded_at,
                                        data=data))


def _vital_values(obs: Observation, warnings: Counter[str]) -> dict[str, float] | None:
    """Field -> value (column units) of a vital-signs Observation; None when it is not one
    hms stores (other category or code, cancelled or entered in error)."""
    if obs.status in ("cancelled", "entered-in-error"):
        return None
    if not any(c.code == "vital-signs" for cat in obs.category or [] for c in cat.coding or []):
        return None
    codes = loinc_codes(obs.code)
    values: dict[str, float] = {}
    if codes & DERIVED_CODES:
        return values
    if codes & BP_PANELS:
        for component in obs.component or []:
            for code in loinc_codes(component.code):
                name = LOINC_FIELDS.get(code)
                if name in ("blood_pressure_systolic", "blood_pressure_diastolic"):
                    value = _convert(name, component.valueQuantity, warnings)
                    if value is not None:
                        values[name] = value
        return values
    name = next((LOINC_FIELDS[c] for c in codes if c in LOINC_FIELDS), None)
    if name is None:
        return None
    value = _convert(name, obs.valueQuantity, warnings)
    if value is not None:
        values[name] = value
    return values


def _convert(name: str, quantity: Quantity | None, warnings: Counter[str]) -> float | None:
    if quantity is None or quantity.value is None:
        warnings[f"vital_signs.{name}.no_value"] += 1
        return None
    unit = quantity.code or quantity.unit
    convert = _UNITS[name].get(unit or "")
    if convert is None:
        warnings[f"vital_signs.{name}.unit_unsupported"] += 1
        return None
    value = convert(float(quantity.value))
    digits = _DECIMALS[name]
    return float(round(value)) if digits == 0 else round(value, digits)


def _valid_vitals(values: dict[str, float], warnings: Counter[str]) -> VitalSignsInput | None:
    """The values as a VitalSignsInput; a value outside the API's range is left out with a
    counted warning (``vital_signs.<field>.out_of_range``). None when nothing is left."""
    data = {k: (int(v) if _DECIMALS[k] == 0 else v) for k, v in values.items()}
    while data:
        try:
            return VitalSignsInput.model_validate(data)
        except ValidationError as exc:
            dropped = False
            for err in exc.errors(include_input=False):
                loc = err["loc"]
                if loc and loc[0] in data:
                    data.pop(str(loc[0]))
                    warnings[f"vital_signs.{loc[0]}.out_of_range"] += 1
                    dropped = True
            if not dropped:  # a cross-field rule (systolic must exceed diastolic)
                data.pop("blood_pressure_systolic", None)
                data.pop("blood_pressure_diastolic", None)
                warnings["vital_signs.blood_pressure.inconsistent"] += 1
    return None
