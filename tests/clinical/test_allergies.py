"""Medication/allergy matching (seed 004 10 and 11.4), pure functions."""

from __future__ import annotations

import pytest

from hms.clinical.allergies import conflicts


@pytest.mark.parametrize(("medication", "allergies", "expected"), [
    ("Amoxicillin 500 mg capsules", ["Penicillin"], ["Penicillin"]),
    ("AMOXICILLIN", ["amoxicillin (rash)"], ["amoxicillin (rash)"]),
    ("Penicillin V", ["penicillins"], ["penicillins"]),
    ("Co-amoxiclav 625", ["Penicillin allergy"], ["Penicillin allergy"]),
    ("Co-trimoxazole", ["Sulfa drugs"], ["Sulfa drugs"]),
    ("Sulfamethoxazole/trimethoprim", ["sulfonamides"], ["sulfonamides"]),
    ("Ibuprofen 400 mg", ["Aspirin"], ["Aspirin"]),
    ("Naproxen", ["NSAIDs"], ["NSAIDs"]),
    ("Ceftriaxone", ["Cephalosporins", "latex"], ["Cephalosporins"]),
])
def test_matches(medication, allergies, expected):
    assert conflicts(medication, allergies) == expected


@pytest.mark.parametrize(("medication", "allergies"), [
    ("Paracetamol 500 mg", ["Penicillin", "Sulfa", "Aspirin"]),
    ("Salbutamol inhaler", ["Peanuts", "Latex"]),
    ("Azithromycin", ["severe rash"]),  # words like "rash" never match on their own
    ("Metformin", []),
])
def test_no_match(medication, allergies):
    assert conflicts(medication, allergies) == []
