"""Domain errors of the fhir module.

Error details name the entry (position, resource type) and the failing element, never an
element's value: bundle content is patient data.
"""

from __future__ import annotations

from hms.core.errors import NotFound, ValidationFailed


class InvalidBundle(ValidationFailed):
    """422: the file is not a valid FHIR R4 Bundle; nothing from it is imported.

    ``detail`` is the reason shown to the operator (file-level problems: unreadable, not JSON,
    not a Bundle, an entry that fails validation, a dangling ``urn:uuid`` reference).
    """

    code = "invalid_fhir_bundle"


class DemoDataMissing(NotFound):
    """404: the repository's ``data/synthea`` folder (the demo bundles) is not there."""

    code = "demo_data_missing"
