"""Deterministic synthetic population: patients, visits, SH.MR.FRM.05 nursing assessments
and vital signs, as plain row dicts in batches (no I/O; :mod:`hms.synthetic.service` loads
them through each module's bulk loader).

The same ``seed``, sizes and ``today`` give the same people, visits and measurements (row
ids and ciphertexts are random). Values stay inside the API's validation ranges: national
IDs pass :func:`hms.patients.validators.check_national_id` against the birth date and
gender, mobiles match the NTRA plan, vital signs lie within the nursing form's limits.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

from hms.patients.validators import GOVERNORATE_CODES, format_patient_number

#: Registrations and visits spread over this many days before ``today`` (``today`` itself
#: excluded).
HISTORY_DAYS = 730
#: Visits that started within this many days may still be open.
RECENT_DAYS = 3
SOURCE_SYSTEM = "urn:hms:synthetic"

# Share of the population by governorate of birth (rounded CAPMAS 2017 census shares, %).
# Source: CAPMAS, 2017 Population Census of Egypt, population by governorate.
_GOVERNORATE_WEIGHTS = {
    "01": 10.0, "21": 9.0, "13": 7.3, "12": 6.7, "18": 6.5, "14": 5.8, "24": 5.8, "02": 5.5,
    "26": 5.2, "16": 5.3, "25": 4.5, "17": 4.4, "23": 3.6, "15": 3.4, "22": 3.3, "27": 3.3,
    "28": 1.5, "29": 1.3, "11": 1.5, "19": 1.4, "03": 0.8, "04": 0.8, "31": 0.4, "32": 0.3,
    "33": 0.5, "34": 0.5, "35": 0.1, "88": 0.5,
}
# Age bands (years, inclusive) and weights: a young population, as Egypt's.
_AGE_BANDS = [((0, 4), 11), ((5, 14), 18), ((15, 24), 16), ((25, 34), 16), ((35, 44), 13),
              ((45, 54), 10), ((55, 64), 9), ((65, 74), 5), ((75, 92), 2)]
# Operator prefixes and rough market shares.
_MOBILE_PREFIXES = [("010", 42), ("012", 25), ("011", 20), ("015", 13)]
_BLOOD_TYPES = [("O+", 36), ("A+", 30), ("B+", 17), ("AB+", 6), ("O-", 4), ("A-", 4),
                ("B-", 2), ("AB-", 1)]
_DEPARTMENTS_ADULT = [("Internal Medicine", 50), ("Emergency", 28), ("Radiology", 12),
                      ("Laboratory", 10)]
_DEPARTMENTS_CHILD = [("Pediatrics", 65), ("Emergency", 25), ("Laboratory", 10)]
_COMPLAINTS = {
    "Internal Medicine": ["Fatigue", "Epigastric pain", "Headache", "Cough", "Joint pain",
                          "Follow-up of hypertension", "Follow-up of diabetes", "Dizziness",
                          "Shortness of breath on exertion", "Back pain"],
    "Emergency": ["Chest pain", "Abdominal pain", "Fever", "Road traffic injury", "Fall",
                  "Shortness of breath", "Vomiting and diarrhoea", "Laceration", "Syncope"],
    "Pediatrics": ["Fever", "Cough", "Diarrhoea", "Ear pain", "Rash", "Vaccination visit",
                   "Sore throat", "Poor feeding"],
    "Radiology": ["Chest X-ray request", "Abdominal ultrasound", "CT head", "Knee X-ray"],
    "Laboratory": ["Routine blood tests", "HbA1c check", "Lipid profile", "CBC follow-up"],
}
_DIAGNOSES = {
    "Internal Medicine": [("I10", "Essential (primary) hypertension"),
                          ("E11.9", "Type 2 diabetes mellitus without complications"),
                          ("K29.7", "Gastritis, unspecified"), ("J06.9",
                          "Acute upper respiratory infection, unspecified"),
                          ("M54.5", "Low back pain"), ("D50.9",
                          "Iron deficiency anaemia, unspecified")],
    "Emergency": [("R07.4", "Chest pain, unspecified"), ("K35.8", "Acute appendicitis"),
                  ("A09", "Infectious gastroenteritis and colitis"),
                  ("S01.8", "Open wound of other parts of head"),
                  ("R55", "Syncope and collapse"), ("J45.9", "Asthma, unspecified")],
    "Pediatrics": [("J06.9", "Acute upper respiratory infection, unspecified"),
                   ("H66.9", "Otitis media, unspecified"), ("A09",
                   "Infectious gastroenteritis and colitis"), ("Z23",
                   "Need for immunization against single bacterial diseases")],
    "Radiology": [("Z01.6", "Radiological examination")],
    "Laboratory": [("Z01.7", "Laboratory examination")],
}
_PAIN_SITES = ["head", "chest", "abdomen", "lower back", "knee", "throat", "ear"]
_PAIN_CHARACTER = ["dull", "sharp", "burning", "throbbing", "cramping"]
_STREET_WORDS = ["El-Tahrir", "El-Nasr", "El-Gomhoreya", "Port Said", "El-Horreya",
                 "Salah Salem", "El-Geish", "Ahmed Orabi", "Talaat Harb", "El-Galaa"]


def _weighted(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    values = [p[0] for p in pairs]
    cumulative = list(itertools.accumulate(p[1] for p in pairs))
    return values, cumulative


@dataclass(frozen=True)
class Names:
    """Given names by gender and family names, each ``(latin, arabic)``."""

    male: list[tuple[str, str]]
    female: list[tuple[str, str]]
    family: list[tuple[str, str]]
    source: str

    @classmethod
    def load(cls) -> Names:
        """The committed list (``data/egyptian_names.json``)."""
        raw = json.loads(resources.files("hms.synthetic").joinpath(
            "data/egyptian_names.json").read_text(encoding="utf-8"))
        def pairs(key: str) -> list[tuple[str, str]]:
            return [(latin, arabic) for latin, arabic in raw[key]]

        return cls(male=pairs("male"), female=pairs("female"), family=pairs("family"),
                   source=raw["source"])


@dataclass
class Batch:
    """Rows of one batch, in load order (patients before visits before vitals before
    forms). ``patients`` carry plaintext identifiers."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    vital_signs: list[dict[str, Any]] = field(default_factory=list)
    nursing_assessments: list[dict[str, Any]] = field(default_factory=list)


class PopulationGenerator:
    """Builds ``patients`` patients with ``visits_per_patient`` visits each.

    Call :meth:`registration_counts`, reserve patient numbers for those days, hand the
    first sequence of each day to :meth:`batches`.
    """

    def __init__(self, *, patients: int, visits_per_patient: int, seed: int = 0,
                 today: date | None = None, names: Names | None = None) -> None:
        self.patients = patients
        self.visits_per_patient = visits_per_patient
        self.seed = seed
        self.today = today or datetime.now(UTC).date()
        # The history ends at midnight before ``today``: nothing lies in the future, and
        # the patient-number counters of those past days are settled.
        self.now = datetime.combine(self.today, time(0), tzinfo=UTC)
        self.first_day = self.today - timedelta(days=HISTORY_DAYS)
        self.names = names or Names.load()
        self._rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
        self._serials: dict[str, int] = {}
        self._serial_offset = random.Random(seed ^ 0x5EED).randrange(5000)  # noqa: S311
        # A bijection of 0..10^8-1 (multiplier coprime to 10): unique mobiles in a run.
        mix = random.Random(seed ^ 0xF00D)  # noqa: S311
        self._mobile_mul = mix.randrange(1, 10**7) * 10 + mix.choice((1, 3, 7, 9))
        self._mobile_add = mix.randrange(10**8)
        self._governorates = _weighted(list(_GOVERNORATE_WEIGHTS.items()))
        self._ages = _weighted(_AGE_BANDS)
        self._prefixes = _weighted(_MOBILE_PREFIXES)
        self._blood = _weighted(_BLOOD_TYPES)
        self._dept_adult = _weighted(_DEPARTMENTS_ADULT)
        self._dept_child = _weighted(_DEPARTMENTS_CHILD)

    # -- registration days ---------------------------------------------------------------
    def _day_index(self, i: int) -> int:
        # Patient i registers on day floor(i * days / n): numbers rise with time.
        return i * HISTORY_DAYS // max(self.patients, 1)

    def _first_of_day(self, d: int) -> int:
        # The smallest i with _day_index(i) >= d.
        return min(self.patients, -(-d * self.patients // HISTORY_DAYS))

    def registration_counts(self) -> dict[date, int]:
        """How many patients register on each day (for the patient-number counters)."""
        counts = Counter(self._day_index(i) for i in range(self.patients))
        return {self.first_day + timedelta(days=d): n for d, n in counts.items()}

    # -- helpers -----------------------------------------------------------------------
    def _pick(self, table: tuple[list[Any], list[float]]) -> Any:
        values, cumulative = table
        x = self._rng.random() * cumulative[-1]
        return values[bisect.bisect_right(cumulative, x)]

    def national_id(self, born: date, governorate: str, gender: str) -> str:
        """A new national ID for this birth date, governorate and gender, unique within the
        run: ``C YYMMDD GG SSS P K``, P odd for men and even for women."""
        century = "2" if born.year < 2000 else "3"
        key = f"{century}{born:%y%m%d}{governorate}{gender[0]}"
        k = self._serials.get(key, 0)
        self._serials[key] = k + 1
        k = (k + self._serial_offset) % 5000
        parity = ("13579" if gender == "male" else "02468")[k // 1000]
        check = (k * 7 + self.seed) % 10
        return f"{century}{born:%y%m%d}{governorate}{k % 1000:03d}{parity}{check}"

    def _mobile(self, i: int) -> str:
        n = (self._mobile_mul * i + self._mobile_add) % 10**8
        return f"{self._pick(self._prefixes)}{n:08d}"

    # -- batches -------------------------------------------------------------------------
    def batches(self, first_sequence: dict[date, int], batch_size: int) -> Iterator[Batch]:
        """Yield the population in batches of ``batch_size`` patients (with their visits).

        Args:
            first_sequence: first reserved patient-number sequence of each registration
                day (from ``patients.service.reserve_patient_numbers``).
        """
        n = self.patients
        day_start = 0  # first patient index of the current day
        current_day = -1
        batch = Batch()
        for i in range(n):
            d = self._day_index(i)
            if d != current_day:
                current_day, day_start = d, i
                day_count = self._first_of_day(d + 1) - i
            k = i - day_start
            day = self.first_day + timedelta(days=d)
            # Registrations 08:00-20:00, in patient-number order.
            registered = datetime.combine(day, time(8), tzinfo=UTC) + timedelta(
                seconds=int(43_200 * (k + 0.5) / day_count))
            number = format_patient_number(day, first_sequence[day] + k)
            self._patient(batch, i, number, registered)
            if len(batch.patients) >= batch_size:
                yield batch
                batch = Batch()
        if batch.patients:
            yield batch

    def _patient(self, batch: Batch, i: int, number: str, registered: datetime) -> None:
        rng = self._rng
        gender = "male" if rng.random() < 0.51 else "female"
        (low, high) = self._pick(self._ages)
        age_days = rng.randrange(low * 365, (high + 1) * 365 - 1)
        born = registered.date() - timedelta(days=age_days)
        governorate = self._pick(self._governorates)
        given = rng.choice(self.names.male if gender == "male" else self.names.female)[0]
        father = rng.choice(self.names.male)[0]
        family = rng.choice(self.names.family)[0]
        age = age_days // 365
        married = age >= 22 and rng.random() < 0.75
        home = governorate if governorate != "88" else rng.choice(("01", "21", "02"))
        patient = {
            "id": uuid.uuid4(),
            "patient_number": number,
            "national_id": self.national_id(born, governorate, gender),
            "given_name": given,
            "family_name": family,
            "full_name": f"{given} {father} {family}",
            "date_of_birth": born,
            "gender": gender,
            "mobile": self._mobile(i),
            "address_line": f"{rng.randrange(1, 200)} {rng.choice(_STREET_WORDS)} St.",
            "city": GOVERNORATE_CODES[home],
            "governorate": GOVERNORATE_CODES[home],
            "country": "Egypt",
            "blood_type": self._pick(self._blood),
            "marital_status": ("married" if married else "single") if age >= 16 else None,
            "source_system": SOURCE_SYSTEM,
            "created_at": registered,
        }
        batch.patients.append(patient)
        profile = self._profile(gender, age)
        starts = [registered + timedelta(minutes=rng.randrange(5, 60))]
        span = (self.now - starts[0]).total_seconds()
        starts += sorted(starts[0] + timedelta(seconds=rng.random() * span)
                         for _ in range(self.visits_per_patient - 1))
        for started in starts[: self.visits_per_patient]:
            self._visit(batch, patient, age, profile, started)

    def _profile(self, gender: str, age: int) -> tuple[float, float]:
        """Height (cm) and BMI of a person, by age and sex (rough growth curves)."""
        rng = self._rng
        if age < 2:
            height = 50 + 18.5 * (age + rng.random())
            bmi = rng.gauss(16.5, 1.2)
        elif age < 15:
            height = 87 + 6.2 * (age - 2) + rng.gauss(0, 4)
            bmi = rng.gauss(16.5 + 0.25 * (age - 2), 1.8)
        else:
            adult = rng.gauss(172, 7) if gender == "male" else rng.gauss(160, 6)
            height = adult if age >= 18 else adult - (18 - age) * 2.5
            bmi = rng.gauss(27.5 if gender == "male" else 29.5, 5)
        return max(45.0, min(height, 205.0)), max(13.0, min(bmi, 48.0))

    def _visit(self, batch: Batch, patient: dict[str, Any], age: int,
               profile: tuple[float, float], started: datetime) -> None:
        rng = self._rng
        department = self._pick(self._dept_child if age < 15 else self._dept_adult)
        recent = (self.now - started).days < RECENT_DAYS
        roll = rng.random()
        if recent:
            status = "open" if roll < 0.5 else "in_progress" if roll < 0.7 else "closed"
        else:
            status = "cancelled" if roll < 0.03 else "closed"
        ended = started + timedelta(minutes=rng.randrange(15, 240))
        if ended > self.now:
            ended = self.now
        code, display = (rng.choice(_DIAGNOSES[department]) if status == "closed"
                         else (None, None))
        visit = {
            "id": uuid.uuid4(),
            "patient_id": patient["id"],
            "status": status,
            "visit_type": "emergency" if department == "Emergency" else "outpatient",
            "department": department,
            "chief_complaint": rng.choice(_COMPLAINTS[department]),
            "started_at": started,
            "ended_at": ended if status in ("closed", "cancelled") else None,
            "diagnosis": display,
            "diagnosis_icd10_code": code,
            "source_system": SOURCE_SYSTEM,
        }
        batch.visits.append(visit)
        if status == "cancelled" or rng.random() >= 0.85:
            return  # most visits get a nursing assessment, not all
        assessed = started + timedelta(minutes=rng.randrange(3, 20))
        if assessed > self.now:
            assessed = self.now
        vitals = self._vitals(age, profile, department)
        vitals.update(id=uuid.uuid4(), patient_id=patient["id"], visit_id=visit["id"],
                      recorded_at=assessed, source_system=SOURCE_SYSTEM)
        batch.vital_signs.append(vitals)
        batch.nursing_assessments.append({
            "visit_id": visit["id"], "patient_id": patient["id"], "assessed_at": assessed,
            "vital_signs_id": vitals["id"], "notes": None,
            "pain": self._pain(department), "fall": self._fall(age),
        })

    def _vitals(self, age: int, profile: tuple[float, float], department: str
                ) -> dict[str, Any]:
        """One set of vital signs within the nursing form's limits (temperature 30-45 Cel,
        pulse 30-200, BP 70-250/40-150 mmHg, RR 8-60, SpO2 70-100 %).

        Source: usual reference ranges by age, e.g. Fleming S et al. (2011), Lancet
        377:1011-1018 (children's heart and respiratory rates)."""
        rng = self._rng
        fever = rng.random() < (0.25 if department in ("Emergency", "Pediatrics") else 0.06)
        temp = rng.uniform(37.8, 39.6) if fever else rng.gauss(36.8, 0.3)
        if age < 1:
            pulse, rr, sys_bp, dia_bp = rng.gauss(130, 12), rng.gauss(38, 5), 80.0, 50.0
        elif age < 6:
            pulse, rr, sys_bp, dia_bp = rng.gauss(105, 10), rng.gauss(26, 3), 92.0, 56.0
        elif age < 13:
            pulse, rr, sys_bp, dia_bp = rng.gauss(88, 9), rng.gauss(20, 2.5), 102.0, 62.0
        else:
            pulse, rr = rng.gauss(78, 10), rng.gauss(16, 2)
            sys_bp = 112 + max(0, age - 30) * 0.6
            dia_bp = 72 + max(0, age - 30) * 0.2
        pulse += 10 if fever else 0
        systolic = round(rng.gauss(sys_bp, 12 if age >= 13 else 6))
        diastolic = min(round(rng.gauss(dia_bp, 8 if age >= 13 else 5)), systolic - 25)
        height, bmi = profile
        weight = bmi * (height / 100) ** 2 * rng.gauss(1.0, 0.02)
        return {
            "temperature_celsius": round(max(35.5, min(temp, 41.0)), 1),
            "pulse_bpm": round(max(45, min(pulse, 190))),
            "blood_pressure_systolic": max(70, min(systolic, 220)),
            "blood_pressure_diastolic": max(40, min(diastolic, 130)),
            "respiratory_rate_per_min": round(max(10, min(rr, 60))),
            "oxygen_saturation_percent": float(round(max(88.0, min(rng.gauss(97.5, 1.3),
                                                                     100.0)))),
            "weight_kg": round(max(2.5, weight), 1),
            "height_cm": round(height, 1),
        }

    def _pain(self, department: str) -> dict[str, Any]:
        rng = self._rng
        if rng.random() < (0.35 if department == "Emergency" else 0.6):
            return {"pain_score": 0, "site": None, "character": None, "onset": None,
                    "duration": None}
        score = min(10, max(1, round(rng.gauss(6 if department == "Emergency" else 3.5, 2))))
        return {"pain_score": score, "site": rng.choice(_PAIN_SITES),
                "character": rng.choice(_PAIN_CHARACTER),
                "onset": rng.choice(("sudden", "gradual")),
                "duration": f"{rng.randrange(1, 10)} {rng.choice(('hours', 'days'))}"}

    def _fall(self, age: int) -> dict[str, Any]:
        rng = self._rng
        old = age >= 65
        aid = "none"
        if old and rng.random() < 0.35:
            aid = rng.choice(("cane", "walker", "crutches", "furniture"))
        gait = "normal"
        if old and rng.random() < 0.4:
            gait = rng.choice(("weak", "impaired"))
        return {
            "history_of_falling": rng.random() < (0.2 if old else 0.03),
            "secondary_diagnosis": rng.random() < (0.6 if age >= 50 else 0.15),
            "ambulatory_aid": aid,
            "iv_therapy": rng.random() < 0.08,
            "gait": gait,
            "mental_status": ("forgets_limitations" if old and rng.random() < 0.15
                              else "oriented_to_own_ability"),
        }
