"""HTTP routes of the organization module."""

from fastapi import APIRouter

router = APIRouter()
