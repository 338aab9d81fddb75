"""What the API reads and answers: inputs are the use cases' commands (bot/commands.py), with
ids bounded to what the database can hold; outputs are built from the use cases' results."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from bot.commands import NewClient, NewConsent, ReferralDraft
from bot.domain.vocab import (
    ConsentMethod,
    NeedOutcome,
    ReferralState,
    ResponseKind,
    ServiceStatus,
    Urgency,
)
from bot.services.directory import SuspensionResult
from bot.services.grid import GridPage
from bot.services.referrals import PublishResult, ReferralDetails
from storage.models import Client, Consent, Recipient, Referral

# Ids are 32-bit integer columns: a larger number can name nothing, and the drivers would fail
# on it (SQLite overflows, PostgreSQL says "integer out of range") instead of answering 404.
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ConsentIn(NewConsent):
    client_id: DbId


class ReferralDraftIn(ReferralDraft):
    client_id: DbId


class ClientIn(NewClient):
    """A new client; `different_from` names likely matches the coordinator says are other
    people (recorded in the audit trail)."""

    different_from: list[DbId] = Field(default_factory=list, max_length=50)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(Out):
    """A refusal written for the person: what went wrong, the input at fault, what to do."""

    error: str
    field: str | None = None
    hint: str | None = None


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A request that does not fit the schema (FastAPI's own answer)."""

    detail: list[ValidationIssue]


class UnprocessableOut(RootModel[ErrorOut | ValidationErrorOut]):
    """422: the request does not fit the schema, or a value in it cannot be accepted."""


class ClientMatchOut(Out):
    """A known client likely to be the one being created, with the fields that agree."""

    client_id: int
    first_name: str
    last_name: str
    birth_date: date
    county: str | None
    fields: list[str]


class DuplicateClientOut(ErrorOut):
    match_id: int
    matches: list[ClientMatchOut]


class UnauthorizedOut(Out):
    detail: str


class ClientOut(Out):
    id: int
    first_name: str
    last_name: str
    birth_date: date
    gender: str | None
    county: str | None
    address: str | None
    phone: str | None
    external_id: str | None
    guardians: list[str]
    created_at: datetime

    @classmethod
    def of(cls, client: Client) -> ClientOut:
        return cls(
            id=client.id,
            first_name=client.first_name,
            last_name=client.last_name,
            birth_date=client.birth_date,
            gender=client.gender,
            county=client.county.name if client.county else None,
            address=client.address,
            phone=client.phone,
            external_id=client.external_id,
            guardians=list(client.guardians),
            created_at=client.created_at,
        )


class ConsentOut(Out):
    id: int
    client_id: int
    programs: list[str]
    info_types: list[str]
    signed_by: str
    signer_is_guardian: bool
    method: ConsentMethod
    signed_at: datetime
    expires_on: date
    revoked_at: datetime | None
    any_program: bool
    reference: str | None

    @classmethod
    def of(cls, consent: Consent) -> ConsentOut:
        return cls(
            id=consent.id,
            client_id=consent.client_id,
            any_program=consent.any_program,
            reference=consent.reference,
            programs=[p.key for p in consent.programs],
            info_types=list(consent.info_types),
            signed_by=consent.signed_by,
            signer_is_guardian=consent.signer_is_guardian,
            method=consent.method,
            signed_at=consent.signed_at,
            expires_on=consent.expires_on,
            revoked_at=consent.revoked_at,
        )


class ReferralOut(Out):
    """A referral without its client's details (those need a role on it: see the details)."""

    number: str
    state: ReferralState
    client_id: int
    facility_code: str
    urgency: Urgency
    needs: list[str]
    statewide: bool
    counties: list[str]
    exclude_programs: list[str]
    target_programs: list[str]
    primary_coordinator: str
    summary: str | None
    publish_count: int
    first_published_at: datetime | None
    last_published_at: datetime | None
    pending_at: datetime | None
    closed_at: datetime | None
    deleted_at: datetime | None
    outcome: NeedOutcome | None
    outcome_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, referral: Referral) -> ReferralOut:
        return cls.model_validate(_referral_fields(referral))


def _referral_fields(referral: Referral) -> dict[str, Any]:
    return {
        "number": referral.number or "",
        "state": referral.state,
        "client_id": referral.client_id,
        "facility_code": referral.facility_code,
        "urgency": referral.urgency,
        "needs": list(referral.needs),
        "statewide": referral.statewide,
        "counties": [c.name for c in referral.counties],
        "exclude_programs": [p.key for p in referral.exclusions],
        "target_programs": [p.key for p in referral.targets],
        "primary_coordinator": referral.primary_coordinator.email,
        "summary": referral.summary,
        "publish_count": referral.publish_count,
        "first_published_at": referral.first_published_at,
        "last_published_at": referral.last_published_at,
        "pending_at": referral.pending_at,
        "closed_at": referral.closed_at,
        "deleted_at": referral.deleted_at,
        "outcome": referral.outcome,
        "outcome_reason": referral.outcome_reason,
        "created_at": referral.created_at,
    }


class RecipientOut(Out):
    program: str
    program_name: str
    joined_at: datetime
    assignee: str | None
    assigned_at: datetime | None
    response: ResponseKind | None
    response_reason: str | None
    response_comment: str | None
    responded_at: datetime | None
    service_status: ServiceStatus | None
    service_status_at: datetime | None

    @classmethod
    def of(cls, recipient: Recipient) -> RecipientOut:
        return cls(
            program=recipient.program.key,
            program_name=recipient.program.name,
            joined_at=recipient.joined_at,
            assignee=recipient.assignee.email if recipient.assignee else None,
            assigned_at=recipient.assigned_at,
            response=recipient.response,
            response_reason=recipient.response_reason,
            response_comment=recipient.response_comment,
            responded_at=recipient.responded_at,
            service_status=recipient.service_status,
            service_status_at=recipient.service_status_at,
        )


class ReferralDetailsOut(ReferralOut):
    client: ClientOut
    recipients: list[RecipientOut]

    @classmethod
    def of_details(cls, details: ReferralDetails) -> ReferralDetailsOut:
        return cls.model_validate(
            {
                **_referral_fields(details.referral),
                "client": ClientOut.of(details.client),
                "recipients": [RecipientOut.of(r) for r in details.recipients],
            }
        )


class PublishOut(Out):
    """What a lifecycle change did: the recipient programs, who joined or left, how many told."""

    number: str
    programs: list[str]
    joined: list[str]
    left: list[str]
    notified: int

    @classmethod
    def of(cls, result: PublishResult) -> PublishOut:
        return cls.model_validate(result)


class SuspensionOut(Out):
    program: str
    suspended: bool
    changed: bool
    joined: int

    @classmethod
    def of(cls, result: SuspensionResult) -> SuspensionOut:
        return cls.model_validate(result)


class GridRowOut(Out):
    """One referral at one recipient program, as the referral grid shows it."""

    recipient_id: int
    number: str
    state: str
    where: str
    needs: list[str]
    urgency: str
    age_days: int | None
    aging: bool
    overdue: bool
    program: str
    program_key: str
    assignee: str | None
    response: str | None
    response_reason: str | None
    client_name: str
    primary_coordinator_id: int


class GridPageOut(Out):
    rows: list[GridRowOut]
    next_cursor: str | None
    total: int
    # False when more rows match than the grid counts (1,000): `total` is then "at least".
    total_exact: bool

    @classmethod
    def of(cls, page: GridPage) -> GridPageOut:
        return cls.model_validate(page)
