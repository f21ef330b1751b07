"""HTTP routes of the scheduling module."""

from fastapi import APIRouter

router = APIRouter()
