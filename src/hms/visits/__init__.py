"""Visits [FHIR Encounter]: the spine of clinical data (the visit archive's patient_visits)."""
