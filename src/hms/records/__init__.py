"""Read-only views that assemble a patient's record from the other modules (the history)."""
