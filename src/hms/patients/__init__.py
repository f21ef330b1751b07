"""Patients [FHIR Patient]: registration, identifiers (MRN, Egyptian national ID), search."""
