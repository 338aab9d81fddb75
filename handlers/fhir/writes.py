"""FHIR writes: referrals from an EHR (a transaction Bundle), Task status changes, REST-hooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
