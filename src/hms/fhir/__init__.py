"""FHIR R4: import of Bundles (Synthea) into the shared model."""
