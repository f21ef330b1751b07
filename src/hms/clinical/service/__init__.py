"""Use cases of the clinical module (its public API for routers and other modules).

Split by topic: :mod:`._base` (vital signs and diagnoses of every seed, consultation
look-ups), :mod:`.vital_signs`, :mod:`.consultations`, :mod:`.prescriptions` (seed 004).
"""

from hms.clinical.bulk import bulk_load_vital_signs
from hms.clinical.service._base import (
    body_mass_index,
    clinical_record_of_patient,
    consultation_for_appointment,
    diagnoses_for_visits,
    get_consultation,
    get_vital_signs,
    import_diagnosis,
    import_vital_signs,
    record_diagnosis,
    record_vital_signs,
    update_vital_signs,
    vitals_for_visits,
)
from hms.clinical.service.consultations import (
    complete_consultation,
    consultation_details,
    create_consultation,
    delete_consultation,
    list_consultations,
    read_consultation,
    update_consultation,
)
from hms.clinical.service.prescriptions import (
    create_prescription,
    current_medications,
    deactivate_prescription,
    list_prescriptions,
    patient_current_medications,
    read_prescription,
    update_prescription,
)
from hms.clinical.service.vital_signs import (
    change_vital_signs,
    create_vital_signs,
    delete_vital_signs,
    list_vital_signs,
    read_vital_signs,
)

__all__ = [
    "body_mass_index",
    "bulk_load_vital_signs",
    "change_vital_signs",
    "clinical_record_of_patient",
    "complete_consultation",
    "consultation_details",
    "consultation_for_appointment",
    "create_consultation",
    "create_prescription",
    "create_vital_signs",
    "current_medications",
    "deactivate_prescription",
    "delete_consultation",
    "delete_vital_signs",
    "diagnoses_for_visits",
    "get_consultation",
    "get_vital_signs",
    "import_diagnosis",
    "import_vital_signs",
    "list_consultations",
    "list_prescriptions",
    "list_vital_signs",
    "patient_current_medications",
    "read_consultation",
    "read_prescription",
    "read_vital_signs",
    "record_diagnosis",
    "record_vital_signs",
    "update_consultation",
    "update_prescription",
    "update_vital_signs",
    "vitals_for_visits",
]
