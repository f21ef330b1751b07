"""Clinical observations shared by every seed: vital signs [Observation] and diagnoses
[Condition]; seed 004 consultations [Encounter note] and prescriptions [MedicationRequest]."""
