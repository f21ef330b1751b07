"""Clinical observations shared by every seed: vital signs [Observation] and diagnoses
[Condition]."""
