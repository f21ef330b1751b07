"""HTTP routes of the fhir module."""

from fastapi import APIRouter

router = APIRouter()
