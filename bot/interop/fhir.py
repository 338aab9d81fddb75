"""closeloop's records as HL7 FHIR R4 (R4B models of fhir.resources) resources of the Gravity
Project's SDOH Clinical Care IG: Task, ServiceRequest, Patient, and the server's statement."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.subscription import Subscription
from fhir.resources.R4B.task import Task

from bot.domain.fhir_task import PRIORITY, task_status
from bot.domain.vocab import ResponseKind
from storage.models import Client, Recipient, Referral

SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/"
TASK_PROFILE = SDOHCC + "SDOHCC-TaskForReferralManagement"
SERVICE_REQUEST_PROFILE = SDOHCC + "SDOHCC-ServiceRequest"
PATIENT_PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
SDOHCC_IG = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/ImplementationGuide/hl7.fhir.us.sdoh-clinicalcare"
)
TEMPORARY_CODES = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
)

# The elements each profile requires (min cardinality 1): what every resource closeloop emits
# must carry, checked by `missing_required` on top of the library's own R4 validation.
REQUIRED: dict[str, tuple[str, ...]] = {
    TASK_PROFILE: (
        "status",
        "intent",
        "code",
        "focus",
        "for",
        "authoredOn",
        "requester",
        "owner",
    ),
    SERVICE_REQUEST_PROFILE: (
        "status",
        "intent",
        "category",
        "code",
        "subject",
        "authoredOn",
        "requester",
    ),
    PATIENT_PROFILE: ("identifier", "name", "gender"),
}

MODELS: dict[str, type[Resource]] = {
    "Task": Task,
    "ServiceRequest": ServiceRequest,
    "Patient": Patient,
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "OperationOutcome": OperationOutcome,
    "Subscription": Subscription,
}


def validated(data: dict[str, Any]) -> dict[str, Any]:
    """The resource through the library's R4 model (types, cardinalities, value sets bound
    'required' in the base spec) and back to JSON; raises on anything the model refuses."""
    model = MODELS[data["resourceType"]].model_validate(data)
    out: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True))
    return out


def missing_required(resource: dict[str, Any]) -> list[str]:
    """Required elements of the resource's declared profile that it lacks."""
    missing = []
    for profile in resource.get("meta", {}).get("profile", []):
        for element in REQUIRED.get(profile, ()):
            if resource.get(element) in (None, [], {}, ""):
                missing.append(f"{resource['resourceType']}.{element}")
    return missing


class Systems:
    """The URIs of closeloop's own identifiers and codes, under the deployment's public URL."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/fhir"
        self.service_code = f"{self.base}/CodeSystem/service-code"
        self.service_status = f"{self.base}/CodeSystem/service-status"
        self.reason = f"{self.base}/CodeSystem/response-reason"
        self.referral = f"{self.base}/sid/referral-number"
        self.client = f"{self.base}/sid/client"
        self.external = f"{self.base}/sid/external-id"
        self.program = f"{self.base}/sid/program"


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def task_last_updated(referral: Referral, recipient: Recipient) -> datetime:
    moments = [
        recipient.joined_at,
        recipient.assigned_at,
        recipient.responded_at,
        recipient.service_status_at,
        recipient.left_at,
        referral.last_published_at,
        referral.pending_at,
        referral.closed_at,
        referral.deleted_at,
    ]
    return max(m for m in moments if m is not None)


def current_status(referral: Referral, recipient: Recipient) -> str:
    return task_status(
        referral_state=referral.state,
        active=recipient.active,
        assigned=recipient.assignee_id is not None,
        response=recipient.response,
        service_status=recipient.service_status,
    )


def task(referral: Referral, recipient: Recipient, systems: Systems) -> dict[str, Any]:
    """One recipient program of a referral as a TaskForReferralManagement."""
    status = current_status(referral, recipient)
    data: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(recipient.id),
        "meta": {
            "profile": [TASK_PROFILE],
            "lastUpdated": _instant(task_last_updated(referral, recipient)),
        },
        "identifier": [
            {"system": systems.referral, "value": f"{referral.number}/{recipient.program.key}"}
        ],
        "status": status,
        "intent": "order",
        "priority": PRIORITY[referral.urgency],
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/CodeSystem/task-code",
                    "code": "fulfill",
                    "display": "Fulfill the focal request",
                }
            ]
        },
        "focus": {"reference": f"ServiceRequest/{referral.id}"},
        "for": {"reference": f"Patient/{referral.client_id}"},
        "authoredOn": _instant(referral.first_published_at or referral.created_at),
        "lastModified": _instant(task_last_updated(referral, recipient)),
        "requester": {
            "reference": f"Practitioner/{referral.primary_coordinator_id}",
            "display": referral.primary_coordinator.name,
        },
        "owner": _organization(recipient, systems),
    }
    reason = _status_reason(recipient, systems)
    if reason is not None:
        data["statusReason"] = reason
    if recipient.service_status is not None:
        data["businessStatus"] = {
            "coding": [
                {
                    "system": systems.service_status,
                    "code": recipient.service_status.name.lower().replace("_", "-"),
                    "display": recipient.service_status.value,
                }
            ],
            "text": recipient.service_status.value,
        }
    return validated(data)


def _organization(recipient: Recipient, systems: Systems) -> dict[str, Any]:
    return {
        "reference": f"Organization/{recipient.program.key}",
        "identifier": {"system": systems.program, "value": recipient.program.key},
        "display": recipient.program.name,
    }


def _status_reason(recipient: Recipient, systems: Systems) -> dict[str, Any] | None:
    """Why the program declined, or the provision of a tentative acceptance."""
    if recipient.response not in (ResponseKind.DECLINE, ResponseKind.TENTATIVE):
        return None
    reason = recipient.response_reason or "other"
    word = "declined" if recipient.response == ResponseKind.DECLINE else "provision"
    text = f"{word}: {reason}"
    if recipient.response_comment:
        text += f" ({recipient.response_comment})"
    return {
        "coding": [
            {
                "system": systems.reason,
                "code": f"{word}-{reason}".replace(" ", "-"),
                "display": reason,
            }
        ],
        "text": text,
    }


def service_request(referral: Referral, systems: Systems, names: dict[str, str]) -> dict[str, Any]:
    """The referral itself: what is asked for (the needs), for whom, by whom, how urgently."""
    data: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(referral.id),
        "meta": {"profile": [SERVICE_REQUEST_PROFILE]},
        "identifier": [{"system": systems.referral, "value": referral.number}],
        "status": _request_status(referral),
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": TEMPORARY_CODES,
                        "code": "sdoh-category-unspecified",
                        "display": "SDOH Category Unspecified",
                    }
                ]
            }
        ],
        "priority": PRIORITY[referral.urgency],
        "code": {
            "coding": [
                {"system": systems.service_code, "code": code, "display": names.get(code, code)}
                for code in referral.needs
            ],
            "text": ", ".join(names.get(code, code) for code in referral.needs),
        },
        "subject": {"reference": f"Patient/{referral.client_id}"},
        "authoredOn": _instant(referral.created_at),
        "requester": {
            "reference": f"Practitioner/{referral.primary_coordinator_id}",
            "display": referral.primary_coordinator.name,
        },
        "performer": [_organization(r, systems) for r in referral.recipients if r.active],
    }
    if referral.counties:
        data["locationCode"] = [
            {
                "coding": [{"system": "urn:oid:2.16.840.1.113883.6.93", "code": c.fips}],
                "text": c.name,
            }
            for c in referral.counties
        ]
    if referral.summary:
        data["note"] = [{"text": referral.summary}]
    return validated(data)


def _request_status(referral: Referral) -> str:
    state = referral.state.value
    return {
        "draft": "draft",
        "open": "active",
        "pending_placement": "active",
        "closed": "completed",
        "deleted": "revoked",
    }[state]


GENDERS = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other"}


def patient(client: Client, systems: Systems) -> dict[str, Any]:
    identifiers = [{"system": systems.client, "value": str(client.id)}]
    if client.external_id:
        identifiers.append({"system": systems.external, "value": client.external_id})
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(client.id),
        "meta": {"profile": [PATIENT_PROFILE]},
        "identifier": identifiers,
        "name": [{"family": client.last_name, "given": [client.first_name]}],
        "gender": GENDERS.get((client.gender or "").strip().lower(), "unknown"),
        "birthDate": client.birth_date.isoformat(),
    }
    if client.phone:
        data["telecom"] = [{"system": "phone", "value": client.phone}]
    address: dict[str, Any] = {}
    if client.address:
        address["text"] = client.address
    if client.county is not None:
        address["district"] = client.county.name
    if address:
        data["address"] = [address]
    return validated(data)


def searchset(resources: list[dict[str, Any]], base: str, self_url: str) -> dict[str, Any]:
    return validated(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in resources
            ],
        }
    )


def operation_outcome(code: str, diagnostics: str, expression: str | None = None) -> dict[str, Any]:
    """An error for a FHIR client: `code` from the IssueType value set (not-found, forbidden,
    business-rule, invalid, not-supported...)."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return validated({"resourceType": "OperationOutcome", "issue": [issue]})


def capability_statement(base: str, moment: datetime) -> dict[str, Any]:
    def interaction(*codes: str) -> list[dict[str, str]]:
        return [{"code": c} for c in codes]

    return validated(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": moment.isoformat(),
            "kind": "instance",
            "software": {"name": "closeloop"},
            "implementation": {"description": "closeloop referrals as FHIR", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "implementationGuide": [SDOHCC_IG],
            "rest": [
                {
                    "mode": "server",
                    "security": {"description": "Bearer tokens of the closeloop API."},
                    "resource": [
                        {
                            "type": "Task",
                            "supportedProfile": [TASK_PROFILE],
                            "interaction": interaction("read", "search-type", "update", "create"),
                            "searchParam": [
                                {"name": "owner", "type": "reference"},
                                {"name": "status", "type": "token"},
                                {"name": "_lastUpdated", "type": "date"},
                            ],
                        },
                        {
                            "type": "ServiceRequest",
                            "supportedProfile": [SERVICE_REQUEST_PROFILE],
                            "interaction": interaction("read"),
                        },
                        {
                            "type": "Patient",
                            "supportedProfile": [PATIENT_PROFILE],
                            "interaction": interaction("read"),
                        },
                        {
                            "type": "Subscription",
                            "interaction": interaction("create", "delete"),
                        },
                    ],
                    "interaction": [{"code": "transaction"}],
                }
            ],
        }
    )
