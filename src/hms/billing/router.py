"""HTTP routes of the billing module."""

from fastapi import APIRouter

router = APIRouter()
