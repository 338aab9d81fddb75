"""A small network for tests: four counties, five programs, the people who work them."""

from __future__ import annotations

from typing import Any

SIGNED = "2026-01-05"
EXPIRES = "2027-01-04"

COORD = "casey@coord.example.org"  # coordinator for Boone and Cole
COORD_SW = "willa@coord.example.org"  # coordinator for Greene
STATEWIDE_COORD = "sam@coord.example.org"  # coordinator for every county
GK_HOME = "grace@heartland.example.org"  # gatekeeper of Heartland Residential and Day
DANA = "dana@heartland.example.org"  # provider, Heartland Residential
LEE = "lee@heartland.example.org"  # provider, Heartland Residential and Day
GK_OZARK = "olivia@ozark.example.org"  # gatekeeper of Ozark Behaviour and Respite
BEN = "ben@ozark.example.org"  # provider, Ozark Behaviour
GK_RIVER = "rita@river.example.org"  # gatekeeper of River Housing
ADMIN = "admin@network.example.org"
OFFICER = "helen@heartland.example.org"  # security officer of Heartland


def small_network() -> dict[str, Any]:
    return {
        "version": 1,
        "regions": [
            {"key": "central", "name": "Central", "digest_channel": "C0CENTRAL"},
            {"key": "southwest", "name": "Southwest"},
        ],
        "counties": [
            {"fips": "29019", "name": "Boone County", "region": "central"},
            {"fips": "29051", "name": "Cole County", "region": "central"},
            {"fips": "29077", "name": "Greene County", "region": "southwest"},
            {"fips": "29095", "name": "Jackson County"},
        ],
        "services": [
            {"code": "RES", "name": "Residential support"},
            {"code": "DAY", "name": "Day habilitation"},
            {"code": "BEH", "name": "Behaviour support"},
            {"code": "RSP", "name": "Respite care"},
            {"code": "HSG", "name": "Housing assistance"},
            {"code": "EMP", "name": "Supported employment"},
        ],
        "agencies": [
            {
                "key": "heartland",
                "name": "Heartland Community Living",
                "mou_signed_on": SIGNED,
                "mou_expires_on": EXPIRES,
                "programs": [
                    {
                        "key": "heartland-res",
                        "name": "Heartland Residential",
                        "services": ["RES"],
                        "counties": ["Boone County", "Cole County"],
                    },
                    {
                        "key": "heartland-day",
                        "name": "Heartland Day",
                        "services": ["DAY"],
                        "counties": ["Boone County"],
                    },
                ],
            },
            {
                "key": "ozark",
                "name": "Ozark Family Supports",
                "mou_signed_on": SIGNED,
                "mou_expires_on": EXPIRES,
                "programs": [
                    {
                        "key": "ozark-beh",
                        "name": "Ozark Behaviour",
                        "services": ["BEH"],
                        "counties": "all",
                    },
                    {
                        "key": "ozark-rsp",
                        "name": "Ozark Respite",
                        "services": ["RSP", "RES"],
                        "counties": ["Greene County"],
                    },
                ],
            },
            {
                "key": "river",
                "name": "River Housing Partners",
                "mou_signed_on": SIGNED,
                "mou_expires_on": EXPIRES,
                "programs": [
                    {
                        "key": "river-hsg",
                        "name": "River Housing",
                        "services": ["HSG"],
                        "counties": ["Jackson County", "Boone County"],
                    }
                ],
            },
        ],
        "staff": [
            _person(
                COORD,
                "Casey Morgan",
                None,
                [{"role": "coordinator", "counties": ["Boone County", "Cole County"]}],
            ),
            _person(
                COORD_SW,
                "Willa Reyes",
                None,
                [{"role": "coordinator", "counties": ["Greene County"]}],
            ),
            _person(
                STATEWIDE_COORD, "Sam Okafor", None, [{"role": "coordinator", "counties": "all"}]
            ),
            _person(
                GK_HOME,
                "Grace Holt",
                "heartland",
                [
                    {"role": "gatekeeper", "program": "heartland-res"},
                    {"role": "gatekeeper", "program": "heartland-day"},
                ],
            ),
            _person(
                DANA, "Dana Ruiz", "heartland", [{"role": "provider", "program": "heartland-res"}]
            ),
            _person(
                LEE,
                "Lee Park",
                "heartland",
                [
                    {"role": "provider", "program": "heartland-res"},
                    {"role": "provider", "program": "heartland-day"},
                ],
            ),
            _person(
                GK_OZARK,
                "Olivia Stone",
                "ozark",
                [
                    {"role": "gatekeeper", "program": "ozark-beh"},
                    {"role": "gatekeeper", "program": "ozark-rsp"},
                ],
            ),
            _person(BEN, "Ben Carter", "ozark", [{"role": "provider", "program": "ozark-beh"}]),
            _person(
                GK_RIVER, "Rita Gomez", "river", [{"role": "gatekeeper", "program": "river-hsg"}]
            ),
            _person(ADMIN, "Network Admin", None, [{"role": "admin"}]),
            _person(
                OFFICER,
                "Helen Ward",
                "heartland",
                [{"role": "security_officer", "agency": "heartland"}],
            ),
        ],
    }


def _person(
    email: str, name: str, agency: str | None, roles: list[dict[str, Any]]
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "email": email,
        "name": name,
        "user_mou_signed_on": SIGNED,
        "roles": roles,
    }
    if agency:
        entry["agency"] = agency
    return entry
