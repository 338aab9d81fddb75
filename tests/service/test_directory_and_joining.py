"""The directory file, imported idempotently, and programs that join open referrals later."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.demo.seed import demo_directory
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.errors import Forbidden, InvalidInput
from bot.services import referrals
from bot.services.directory import (
    import_directory,
    parse_directory,
    read_directory_file,
    resume_program,
    suspend_program,
)
from storage.db import transaction
from storage.models import AuditEvent, County, OutboxMessage, Program, Region, RoleGrant
from tests.conftest import row_counts
from tests.network import ADMIN, COORD, DANA, GK_HOME, GK_OZARK, GK_RIVER, small_network
from tests.service.helpers import published, recipients, sent

AsStaff = Callable[[Session, str], Actor]


def _import(sessions: sessionmaker[Session], data: dict[str, Any]) -> str:
    with transaction(sessions) as s:
        result = import_directory(
            s, directory=parse_directory(data, source="test.json"), source="test.json"
        )
    return result.summary()


def _clear_outbox(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        for row in s.scalars(select(OutboxMessage)):
            s.delete(row)


def test_reimporting_the_same_file_changes_nothing(network: sessionmaker[Session]) -> None:
    with transaction(network) as s:
        before = row_counts(s)
    assert _import(network, small_network()) == "Directory unchanged."
    with transaction(network) as s:
        assert row_counts(s) == before


def test_a_changed_file_updates_in_place(network: sessionmaker[Session]) -> None:
    data = small_network()
    data["agencies"][2]["name"] = "River Housing Partners of Missouri"
    data["staff"][4]["roles"] = [{"role": "provider", "program": "heartland-day"}]  # Dana moves
    summary = _import(network, data)
    assert summary == "Directory imported: 1 roles created, 1 agencies updated, 1 roles revoked."
    with transaction(network) as s:
        grants = s.scalars(
            select(RoleGrant).join(RoleGrant.staff).where(RoleGrant.staff.has(email=DANA))
        ).all()
        assert sorted(
            (g.program.key if g.program else "", g.revoked_at is None) for g in grants
        ) == [
            ("heartland-day", True),
            ("heartland-res", False),
        ]


def test_the_demo_directory_has_all_115_missouri_units(
    sessions: sessionmaker[Session], clock: Any
) -> None:
    data = demo_directory(clock.now.date())
    with transaction(sessions) as s:
        import_directory(
            s, directory=parse_directory(data, source="missouri.json"), source="missouri.json"
        )
    with transaction(sessions) as s:
        counties = s.scalars(select(County)).all()
        assert len(counties) == 115
        assert {c.fips[:2] for c in counties} == {"29"}
        assert any(c.name == "St. Louis city" for c in counties)
        assert all(c.region_id is not None for c in counties)
        assert len(s.scalars(select(Region)).all()) == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["agencies"][0]["programs"][1].update(counties=["Boone County", "Narnia"]),
            'test.json: agencies[0] (key "heartland") programs[1] (key "heartland-day") field "counties": unknown county "Narnia".',
        ),
        (
            lambda d: d["agencies"][1]["programs"][0].update(services=["BEH", "ZZZ"]),
            'test.json: agencies[1] (key "ozark") programs[0] (key "ozark-beh") field "services": unknown service code "ZZZ".',
        ),
        (
            lambda d: d["staff"][3]["roles"].append({"role": "gatekeeper", "program": "nowhere"}),
            'test.json: staff[3] (email "grace@heartland.example.org") roles[2] field "program": a gatekeeper needs a program of the directory (got "nowhere").',
        ),
        (
            lambda d: d["counties"][1].update(fips="2905"),
            'test.json: counties[1] (key "2905") field "fips": String should match pattern \'^\\d{5}$\'.',
        ),
        (
            lambda d: d["agencies"][0]["programs"][0].pop("services"),
            'test.json: agencies[0] (key "heartland") programs[0] (key "heartland-res") field "services": Field required.',
        ),
    ],
)
def test_an_invalid_file_names_file_entry_and_field_and_imports_nothing(
    sessions: sessionmaker[Session], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = copy.deepcopy(small_network())
    change(data)
    with pytest.raises(InvalidInput) as caught, transaction(sessions) as s:
        import_directory(s, directory=parse_directory(data, source="test.json"), source="test.json")
    assert caught.value.message == message
    with transaction(sessions) as s:
        assert sum(row_counts(s).values()) == 0


def test_a_yaml_file_and_a_broken_file(tmp_path: Path) -> None:

    good = tmp_path / "network.yaml"
    good.write_text(yaml.safe_dump(small_network()), encoding="utf-8")
    assert len(read_directory_file(good).agencies) == 3
    broken = tmp_path / "broken.json"
    broken.write_text('{"regions": [', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"broken.json: not valid JSON"):
        read_directory_file(broken)


def test_a_new_program_joins_matching_open_referrals_at_once(
    network: sessionmaker[Session],
) -> None:
    number = published(network, needs=["RES"], counties=["Boone County"])
    _clear_outbox(network)
    data = small_network()
    data["agencies"][2]["programs"].append(
        {
            "key": "river-res",
            "name": "River Residential",
            "services": ["RES"],
            "counties": ["Boone County"],
        }
    )
    data["staff"][8]["roles"].append({"role": "gatekeeper", "program": "river-res"})
    _import(network, data)
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-res", "river-res"]
        assert recipients(s, number)["river-res"].joined_how == "directory_import"
        assert sent(s) == [("program_joined", GK_RIVER)]


def test_a_program_that_widens_its_counties_joins(network: sessionmaker[Session]) -> None:
    # Publishing to no program is refused: Ozark Behaviour (every county) takes the BEH need.
    number = published(network, needs=["RSP", "BEH"], counties=["Boone County"])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["ozark-beh"]
    data = small_network()
    data["agencies"][1]["programs"][1]["counties"] = ["Greene County", "Boone County"]
    _import(network, data)
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["ozark-beh", "ozark-rsp"]
        assert sent(s, "program_joined") == [("program_joined", GK_OZARK)]


def test_resuming_a_suspended_program_joins_and_notifies_every_open_referral(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        suspend_program(
            s, actor=as_staff(s, GK_HOME), program="heartland-res", channel=Channel.SLACK
        )
    # Publishing to no program is refused: Ozark Behaviour (every county) takes the BEH need.
    first = published(network, needs=["RES", "BEH"])
    second = published(network, needs=["RES", "BEH"], counties=["Cole County"])
    with transaction(network) as s:
        assert list(recipients(s, first)) == list(recipients(s, second)) == ["ozark-beh"]
    _clear_outbox(network)
    with transaction(network) as s:
        result = resume_program(
            s, actor=as_staff(s, GK_HOME), program="heartland-res", channel=Channel.SLACK
        )
    assert (result.changed, result.joined) == (True, 2)
    with transaction(network) as s:
        assert sorted(recipients(s, first)) == ["heartland-res", "ozark-beh"]
        # Grace resumed it herself: she is not told of her own action, so the joins are
        # recorded but only other gatekeepers would be told. Here there are none.
        assert sent(s) == []
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))][-3:]
        assert actions == ["program_resumed", "program_joined", "program_joined"]


def test_resumed_by_an_admin_tells_the_gatekeeper_once_per_referral(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:

    with transaction(network) as s:
        suspend_program(s, actor=as_staff(s, ADMIN), program="heartland-res", channel=Channel.CLI)
    published(network, needs=["RES", "BEH"])
    published(network, needs=["RES", "BEH"], counties=["Cole County"])
    _clear_outbox(network)
    with transaction(network) as s:
        resume_program(s, actor=as_staff(s, ADMIN), program="heartland-res", channel=Channel.CLI)
    with transaction(network) as s:
        assert sent(s) == [("program_joined", GK_HOME), ("program_joined", GK_HOME)]


def test_only_gatekeepers_or_admins_suspend(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with pytest.raises(Forbidden), transaction(network) as s:
        suspend_program(s, actor=as_staff(s, DANA), program="heartland-res", channel=Channel.SLACK)
    with transaction(network) as s:
        program = s.scalar(select(Program).where(Program.key == "heartland-res"))
        assert program is not None and not program.suspended


def test_a_lifted_exclusion_is_notified_at_the_next_republish(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network, needs=["RES", "DAY"], exclude_programs=["heartland-day"])
    _clear_outbox(network)
    with transaction(network) as s:
        referrals.edit_referral(
            s,
            actor=as_staff(s, COORD),
            number=number,
            edit={"exclude_programs": []},
            channel=Channel.API,
        )
    with transaction(network) as s:
        # Editing alone routes nothing: the family's change reaches programs at re-publish.
        assert sorted(recipients(s, number)) == ["heartland-res"]
        assert sent(s) == []
    with transaction(network) as s:
        result = referrals.republish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=Channel.API
        )
    assert result.joined == ["Heartland Day"]
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-day", "heartland-res"]
        assert recipients(s, number)["heartland-day"].joined_how == "republished"
        assert sorted(sent(s)) == sorted(
            [
                ("referral_republished", GK_HOME),
                ("referral_republished", GK_HOME),
                ("referral_republished", "sam@coord.example.org"),
            ]
        )


def test_json_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(small_network()), encoding="utf-8")
    assert [a.key for a in read_directory_file(path).agencies] == ["heartland", "ozark", "river"]
