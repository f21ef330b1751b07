"""Domain errors of the organization module."""

from hms.core.errors import Conflict


class DepartmentInUse(Conflict):
    """409: users, services or appointments still reference the department."""

    code = "department_in_use"


class InsuranceProviderInUse(Conflict):
    """409: patients still reference the insurance provider."""

    code = "insurance_provider_in_use"


class NameTaken(Conflict):
    """409: another department / insurance provider already has this name."""

    code = "name_taken"
