"""HTTP routes of the lab module."""

from fastapi import APIRouter

router = APIRouter()
