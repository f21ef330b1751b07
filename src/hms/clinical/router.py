"""HTTP routes of the clinical module."""

from fastapi import APIRouter

router = APIRouter()
