"""Append-only audit trail (FHIR AuditEvent): every write and every read of patient data."""
