"""Patient rights: the export of all of a patient's data (JSON and a FHIR R4 Bundle), and
erasure requests that honour the retention period and legal holds (seed 003 NFR-SEC-002,
NFR-COMP-002 and 8.2 GDPR rights to access, portability and erasure)."""
