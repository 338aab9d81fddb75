"""The database tables: directory, clients and consent, referrals, audit trail and outbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    literal_column,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.domain.agreements import agency_mou_valid
from bot.domain.capacity import CapacityStatus
from bot.domain.lifecycle import CONSENT_VALID_DAYS
from bot.domain.vocab import (
    ACTIVE_STATES,
    AccessStatus,
    ConsentMethod,
    NeedOutcome,
    ReferralState,
    ResponseKind,
    Role,
    ServiceStatus,
    Urgency,
)
from storage.types import UTCDateTime, str_enum, utcnow

# Named constraints so that migrations can refer to them on every engine.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


# --- Directory -------------------------------------------------------------------------------

program_counties = Table(
    "program_counties",
    Base.metadata,
    Column("program_id", ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True),
    Column("county_id", ForeignKey("counties.id", ondelete="CASCADE"), primary_key=True),
)

program_services = Table(
    "program_services",
    Base.metadata,
    Column("program_id", ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True),
    Column("service_code", ForeignKey("service_codes.code"), primary_key=True),
)


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Where this region's coordinators get their daily digest (a Slack channel id).
    digest_channel: Mapped[str | None] = mapped_column(String(64))

    counties: Mapped[list[County]] = relationship(back_populates="region", order_by="County.name")


class County(Base):
    __tablename__ = "counties"

    id: Mapped[int] = mapped_column(primary_key=True)
    fips: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))

    region: Mapped[Region | None] = relationship(back_populates="counties")


class ServiceCode(Base):
    __tablename__ = "service_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mou_signed_on: Mapped[date | None] = mapped_column(Date)
    mou_expires_on: Mapped[date | None] = mapped_column(Date)
    # The HSDS organization this agency was imported from (the fields closeloop keeps for the
    # export, bot/interop): None for an agency from closeloop's own directory file.
    hsds: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    programs: Mapped[list[Program]] = relationship(back_populates="agency", order_by="Program.name")

    def mou_valid_on(self, day: date) -> bool:
        return agency_mou_valid(self.mou_signed_on, self.mou_expires_on, day)


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    name: Mapped[str] = mapped_column(String(200))
    insurance: Mapped[list[str]] = mapped_column(default=list)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Capacity as a gatekeeper last stated it (bot/domain/capacity.py); None: never stated.
    capacity_status: Mapped[CapacityStatus | None] = mapped_column(str_enum(CapacityStatus))
    capacity_waitlist: Mapped[int | None] = mapped_column(Integer)
    capacity_set_on: Mapped[date | None] = mapped_column(Date)
    capacity_until: Mapped[date | None] = mapped_column(Date)
    capacity_set_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The HSDS service (with its program, areas, terms, contacts) it was imported from.
    hsds: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    agency: Mapped[Agency] = relationship(back_populates="programs")
    counties: Mapped[list[County]] = relationship(secondary=program_counties)
    services: Mapped[list[ServiceCode]] = relationship(secondary=program_services)


class NetworkSetting(Base):
    """A setting the network keeps in its directory (e.g. whether consent is required, the
    user MOU's text); the environment variable of the same name, when set, wins."""

    __tablename__ = "network_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    user_mou_signed_on: Mapped[date | None] = mapped_column(Date)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    slack_checked_at: Mapped[datetime | None]
    notify_email: Mapped[bool] = mapped_column(Boolean, default=True)
    wants_digest_email: Mapped[bool] = mapped_column(Boolean, default=False)
    email_bouncing: Mapped[bool] = mapped_column(Boolean, default=False)
    last_active_at: Mapped[datetime | None]
    # When access was last removed (by a security officer or after 90 idle days): the refusal
    # every channel gives names the day.
    access_removed_at: Mapped[datetime | None]
    # When the idle rule last warned this person that their access would go (the rule removes
    # no one it has not warned at least 14 days before, since their last use).
    idle_warned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency | None] = relationship()
    roles: Mapped[list[RoleGrant]] = relationship(
        back_populates="staff", primaryjoin="and_(Staff.id == RoleGrant.staff_id)"
    )


class RoleGrant(Base):
    """One role of one person, scoped to a program, an agency, a county, or the network."""

    __tablename__ = "role_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"), index=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    staff: Mapped[Staff] = relationship(back_populates="roles")
    program: Mapped[Program | None] = relationship()
    county: Mapped[County | None] = relationship()
    agency: Mapped[Agency | None] = relationship()


class AccessRequest(Base):
    """A staff member's request for a role on a program, decided by the agency's security
    officer. At most one is pending per person, role and program (a partial unique index)."""

    __tablename__ = "access_requests"
    __table_args__ = (
        Index(
            "uq_access_requests_pending",
            "staff_id",
            "role",
            "program_id",
            unique=True,
            sqlite_where=sql_text("status = 'pending'"),
            postgresql_where=sql_text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    status: Mapped[AccessStatus] = mapped_column(str_enum(AccessStatus), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id])
    program: Mapped[Program] = relationship()
    decided_by: Mapped[Staff | None] = relationship(foreign_keys=[decided_by_id])


# --- Clients and consent -----------------------------------------------------------------------

consent_programs = Table(
    "consent_programs",
    Base.metadata,
    Column("consent_id", ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True),
    Column("program_id", ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True),
)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_identity", "last_name", "first_name", "birth_date"),
        Index("ix_clients_birth_date", "birth_date"),
        # Search results come in this order: a walk of this index stops at the 20th match.
        Index("ix_clients_name_keys", "last_key", "first_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(40))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    guardians: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Folded copies for search and duplicate detection (bot/domain/identity.py), written by
    # bot.services.clients whenever the source fields are.
    first_key: Mapped[str | None] = mapped_column(String(100))
    last_key: Mapped[str | None] = mapped_column(String(100))
    phone_key: Mapped[str | None] = mapped_column(String(10), index=True)
    external_key: Mapped[str | None] = mapped_column(String(64), index=True)

    county: Mapped[County | None] = relationship()
    consents: Mapped[list[Consent]] = relationship(back_populates="client")


# The grid's name search is a case-insensitive prefix (LIKE 'smi%'): PostgreSQL serves it from
# this index whatever the database's collation. PostgreSQL only: SQLite has no operator classes.
Index(
    "ix_clients_name_prefix",
    func.lower(Client.last_name).label("last_lower"),
    func.lower(Client.first_name).label("first_lower"),
    postgresql_ops={"last_lower": "text_pattern_ops", "first_lower": "text_pattern_ops"},
).ddl_if(dialect="postgresql")


class Consent(Base):
    """A release of information: which programs may receive which information, for a year."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    info_types: Mapped[list[str]] = mapped_column(default=list)
    signed_by: Mapped[str] = mapped_column(String(200))
    signer_is_guardian: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[ConsentMethod] = mapped_column(str_enum(ConsentMethod))
    signed_at: Mapped[datetime]
    expires_on: Mapped[date] = mapped_column(Date)
    revoked_at: Mapped[datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Covers every participating program, present and future, instead of the listed ones.
    any_program: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the signed paper lives (a scan's reference), for the uploaded-scan method.
    reference: Mapped[str | None] = mapped_column(String(200))
    # When it was recorded here: a paper form signed last month is recorded today.
    recorded_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship(back_populates="consents")
    programs: Mapped[list[Program]] = relationship(secondary=consent_programs)

    @property
    def signed_on(self) -> date:
        """The network's local day it was signed. Not `signed_at.date()`: that is UTC's, a day
        ahead of the local one every evening in the Americas."""
        return self.expires_on - timedelta(days=CONSENT_VALID_DAYS)

    def active_on(self, day: date) -> bool:
        return self.revoked_at is None and self.signed_on <= day <= self.expires_on


# --- Referrals ---------------------------------------------------------------------------------

referral_counties = Table(
    "referral_counties",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    Column("county_id", ForeignKey("counties.id"), primary_key=True),
    # The grid's county filter reads a county's referrals from here.
    Index("ix_referral_counties_county_id", "county_id", "referral_id"),
)

referral_exclusions = Table(
    "referral_exclusions",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    Column("program_id", ForeignKey("programs.id"), primary_key=True),
)

referral_targets = Table(
    "referral_targets",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    Column("program_id", ForeignKey("programs.id"), primary_key=True),
)

# The referral's needs, one row each: a copy of `Referral.needs` for the grid's need filter
# (a JSON list cannot be indexed or estimated), written by bot.services.grid_rows.
referral_needs = Table(
    "referral_needs",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Index("ix_referral_needs_code", "code", "referral_id"),
)


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    facility_code: Mapped[str] = mapped_column(String(3))
    primary_coordinator_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    urgency: Mapped[Urgency] = mapped_column(str_enum(Urgency))
    statewide: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ReferralState] = mapped_column(str_enum(ReferralState), index=True)
    needs: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    publish_count: Mapped[int] = mapped_column(Integer, default=0)
    # The grid's default order (oldest first).
    first_published_at: Mapped[datetime | None] = mapped_column(index=True)
    last_published_at: Mapped[datetime | None]
    pending_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deleted_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[NeedOutcome | None] = mapped_column(str_enum(NeedOutcome))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    client: Mapped[Client] = relationship()
    primary_coordinator: Mapped[Staff] = relationship(foreign_keys=[primary_coordinator_id])
    counties: Mapped[list[County]] = relationship(secondary=referral_counties)
    exclusions: Mapped[list[Program]] = relationship(secondary=referral_exclusions)
    targets: Mapped[list[Program]] = relationship(secondary=referral_targets)
    recipients: Mapped[list[Recipient]] = relationship(
        back_populates="referral", order_by="Recipient.id"
    )


class Recipient(Base):
    """A program that receives a referral: its assignment, current response and service status."""

    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("referral_id", "program_id"),
        # One index per grid order, ending in the tie-breaker: a page is then the first rows
        # of an index walk, not a sort of every visible row.
        Index("ix_recipients_grid_published_at", "grid_published_at", "id"),
        Index("ix_recipients_grid_number", "grid_number", "id"),
        Index("ix_recipients_grid_urgency", "grid_urgency", "id"),
        Index("ix_recipients_grid_state", "grid_state", "id"),
        Index("ix_recipients_grid_program", "grid_program", "id"),
        Index("ix_recipients_grid_last_name", "grid_last_name", "id"),
        Index("ix_recipients_response", "response", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime]
    joined_how: Mapped[str] = mapped_column(String(32))
    left_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    assigned_at: Mapped[datetime | None]
    response: Mapped[ResponseKind | None] = mapped_column(str_enum(ResponseKind))
    response_reason: Mapped[str | None] = mapped_column(String(64))
    response_comment: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None]
    response_version: Mapped[int] = mapped_column(Integer, default=0)
    service_status: Mapped[ServiceStatus | None] = mapped_column(str_enum(ServiceStatus))
    service_status_at: Mapped[datetime | None]
    # Copies of what the grid filters and sorts on (the referral's state, first publication,
    # number, urgency, scope and primary coordinator, the program's name, the client's last
    # name), so that each grid order is an index on this table and a row is judged without a
    # join. Written only by bot.services.grid_rows.refresh_grid_rows.
    grid_state: Mapped[ReferralState | None] = mapped_column(str_enum(ReferralState))
    grid_published_at: Mapped[datetime | None]
    grid_number: Mapped[str | None] = mapped_column(String(20))
    grid_urgency: Mapped[Urgency | None] = mapped_column(str_enum(Urgency))
    grid_program: Mapped[str | None] = mapped_column(String(200))
    grid_last_name: Mapped[str | None] = mapped_column(String(100))
    grid_statewide: Mapped[bool | None] = mapped_column(Boolean)
    grid_coordinator_id: Mapped[int | None] = mapped_column(Integer, index=True)

    referral: Mapped[Referral] = relationship(back_populates="recipients")
    program: Mapped[Program] = relationship()
    assignee: Mapped[Staff | None] = relationship()
    responses: Mapped[list[ResponseVersion]] = relationship(
        back_populates="recipient", order_by="ResponseVersion.version"
    )
    notes: Mapped[list[Note]] = relationship(back_populates="recipient", order_by="Note.id")


# The open grid (open and pending-placement referrals: a tenth of all rows, the recent ones)
# has an index per order of its own, so that a walk in order reads no closed rows. The grid's
# query names this very expression, inline, so that the planner can match it.
GRID_OPEN = Recipient.grid_state.in_(
    [literal_column(f"'{state.value}'") for state in sorted(ACTIVE_STATES)]
)
for _name, _key in (
    ("published_at", Recipient.grid_published_at),
    ("number", Recipient.grid_number),
    ("urgency", Recipient.grid_urgency),
    ("state", Recipient.grid_state),
    ("program", Recipient.grid_program),
    ("last_name", Recipient.grid_last_name),
    ("response", Recipient.response),
    ("referral_id", Recipient.referral_id),
    ("program_id", Recipient.program_id),
):
    Index(
        f"ix_recipients_open_{_name}",
        _key,
        *([] if _name in ("referral_id", "program_id") else [Recipient.id]),
        postgresql_where=GRID_OPEN,
        sqlite_where=GRID_OPEN,
    )

# The grid's last-name search (a case-insensitive prefix) on the grid row's own copy.
# PostgreSQL only, like ix_clients_name_prefix.
Index(
    "ix_recipients_grid_last_name_prefix",
    func.lower(Recipient.grid_last_name).label("last_lower"),
    postgresql_ops={"last_lower": "text_pattern_ops"},
).ddl_if(dialect="postgresql")


class ResponseVersion(Base):
    """Every version of a program's response is kept."""

    __tablename__ = "response_versions"
    __table_args__ = (UniqueConstraint("recipient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ResponseKind] = mapped_column(str_enum(ResponseKind))
    reason: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    recipient: Mapped[Recipient] = relationship(back_populates="responses")
    actor: Mapped[Staff] = relationship()


class Note(Base):
    """A timestamped line of a program's call log about a referral."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    recipient: Mapped[Recipient] = relationship(back_populates="notes")
    author: Mapped[Staff] = relationship()


# --- Audit and outbox --------------------------------------------------------------------------


class AuditEvent(Base):
    """Who did what, when, through which channel. Appended in the same transaction as the change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[Staff | None] = relationship()


# An officer lists the reads of one client, newest first.
Index("ix_audit_events_client_at", AuditEvent.client_id, AuditEvent.at)


class OutboxMessage(Base):
    """A notification waiting for, or done with, delivery. The key makes each one unique."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_waiting_on", "waiting_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(254))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    # The claim of the dispatcher holding the row (a token per claimed batch): its final write
    # matches on it, so a dispatcher that lost its lease cannot mark a row another one holds.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # After the far side could not be reached: the channel whose next success brings it forward.
    waiting_on: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


# A reminder or escalation on a first run over a backlog can list thousands of referrals; its
# payload is compressed (TOAST) when stored. lz4 takes a fraction of the default pglz's time
# (docs/benchmarks.md). An optimisation only: a server built without lz4 keeps pglz.
OUTBOX_PAYLOAD_LZ4 = """
DO $$ BEGIN
    ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN NULL;
END $$
"""
event.listen(
    OutboxMessage.__table__,
    "after_create",
    DDL(OUTBOX_PAYLOAD_LZ4).execute_if(dialect="postgresql"),
)


class QueuedCommand(Base):
    """A `/referral` command acknowledged to Slack and handed to the answering processes
    (SLACK_ANSWER_PROCESSES): written before the acknowledgement, so a process that dies does
    not lose it. queued -> answered (carried out; the answer kept) -> deleted once posted to
    response_url (handlers/slack/queued.py).
    """

    __tablename__ = "slack_commands"
    __table_args__ = (Index("ix_slack_commands_open", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The parsed command, pickled by the web process that parsed it (never from outside).
    command: Mapped[bytes] = mapped_column(LargeBinary)
    user_id: Mapped[str] = mapped_column(String(32))
    response_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    leased_until: Mapped[datetime | None]
    answer: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class Escalation(Base):
    """A pair (referral, program) whose overdue escalation was written: at most once ever, so a
    restart, an overlapping run or a second clock never repeats it. The job claims new pairs
    with one INSERT ... SELECT ... ON CONFLICT DO NOTHING."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("referral_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(Integer)
    program_id: Mapped[int] = mapped_column(Integer)
    escalated_at: Mapped[datetime]


class SlackThread(Base):
    """The Slack message that starts a referral's thread in one DM or channel (`address`, as
    the outbox row names it): later notifications about the referral there reply in it."""

    __tablename__ = "slack_threads"
    __table_args__ = (UniqueConstraint("referral_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class ReminderWatermark(Base):
    """The last day each person was sent a 30-day reminder. What is due for them is every
    30-day anniversary that fell after it: each anniversary is covered by exactly one run,
    whatever the downtime in between, without a row per referral reminded."""

    __tablename__ = "reminder_watermarks"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    through: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime]


class InboundEmail(Base):
    """Every email read from the replies mailbox, by Message-ID, with what became of it: a
    message delivered again (same Message-ID) is recognised and never applied twice."""

    __tablename__ = "inbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the Message-ID (or of the raw message when it has none): ids can be long.
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(255))
    from_address: Mapped[str | None] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    received_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for the REST API, issued to one staff member; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    # sha256 of the secret, hex: the secret itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    staff: Mapped[Staff] = relationship()


class WebSession(Base):
    """A sign-in link's one use and the web session it opened: a second click on the link finds
    its nonce taken; signing out ends the session at once."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The random part of the sign-in link, hex: unique, so a link opens one session only.
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class FhirSubscription(Base):
    """An EHR's REST-hook: told (through the outbox) when a Task it may see changes status."""

    __tablename__ = "fhir_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    # Sent as the Authorization header of each notification (the subscription's channel.header).
    header: Mapped[str | None] = mapped_column(String(500))
    # Task?owner=Organization/<program key>: only that program's Tasks; None: every Task the
    # subscriber may see.
    program_id: Mapped[int | None] = mapped_column(ForeignKey("programs.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
