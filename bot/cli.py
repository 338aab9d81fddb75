"""The `closeloop` command: the Procfile's processes, migrations, the directory and the demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot.errors import UserError
from bot.keys import refuse_development_key, with_local_key
from bot.logs import configure_logging
from bot.logs import install as install_log_redaction
from bot.settings import Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    install_log_redaction()
    settings: Settings | None = None
    try:
        settings = with_local_key(load_settings(**_listen_overrides(args)))
        configure_logging(settings.log_format)
        return int(args.run(settings, args) or 0)
    except SettingsError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        # An admin's first mistake is often the database: one line, not a driver traceback.
        print(f"closeloop: {database_problem(exc, settings)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `closeloop digest ... | head`: the reader has gone; stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except UserError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 1


def database_problem(exc: DBAPIError, settings: Settings | None) -> str:
    """'cannot use the database at URL (DATABASE_URL): what the driver said, in one line'."""
    url = "DATABASE_URL"
    if settings is not None:
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url).render_as_string(hide_password=True)
        url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    said = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    said = said.removeprefix("(psycopg.OperationalError) ")
    if "no such table" in said or ("relation" in said and "does not exist" in said):
        return f"the database at {url} has no closeloop tables yet: run `closeloop migrate`"
    return f"cannot use the database at {url} (DATABASE_URL): {said}"


def _listen_overrides(args: argparse.Namespace) -> dict[str, object]:
    """`--host` and `--port` win over HOST and PORT (and so move PUBLIC_URL when it is unset)."""
    return {
        name: getattr(args, name)
        for name in ("host", "port")
        if getattr(args, name, None) is not None
    }


def _listening(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="the address to listen on (default: HOST, or 127.0.0.1)")
    p.add_argument("--port", type=int, help="the port to listen on (default: PORT, or 8000)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="closeloop", description=__doc__)
    sub = parser.add_subparsers(title="commands")

    def command(name: str, help_text: str, run: object) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    _listening(
        command("serve", "web, worker and clock in one process (the embedded default)", _serve)
    )
    _listening(command("web", "the web process: Slack endpoint, API, health", _web))
    command("worker", "the worker process: outbox dispatcher and inbox listener", _worker)
    command("clock", "the clock process: scheduled jobs", _clock)
    command("migrate", "create or upgrade the database schema", _migrate)
    seed = command("seed", "load the demo network (Missouri) into the database", _seed)
    seed.add_argument("--if-empty", action="store_true", help="only when the database is empty")
    command("demo", "run a whole referral loop on a throwaway database and print it", _demo)
    digest = command("digest", "print a region's coordinator digest (last 24 hours)", _digest)
    digest.add_argument("--channel", required=True, help="the region's digest channel id")
    job = command("job", "run one scheduled job now, or as of --at (idempotent)", _job)
    job.add_argument("name", help="e.g. coordinator_digests, thirty_day_reminders")
    job.add_argument(
        "--at",
        metavar="WHEN",
        help="run as of this time, e.g. 2027-11-30T06:00 (local TIMEZONE unless it has an offset)",
    )
    slack = sub.add_parser("slack", help="the Slack app")
    ssub = slack.add_subparsers(title="slack commands")
    mani = ssub.add_parser(
        "manifest", help="print the Slack app manifest (YAML) for this deployment's address"
    )
    mani.add_argument("--url", help="the public https address (default: PUBLIC_URL)")
    mani.set_defaults(run=_slack_manifest)
    email = sub.add_parser("email", help="the email channel")
    esub = email.add_subparsers(title="email commands")
    parse = esub.add_parser(
        "parse", help="read one raw message as the inbox listener does and print it as JSON"
    )
    parse.add_argument("file", help="an .eml file, or - for standard input")
    parse.set_defaults(run=_email_parse)
    directory = sub.add_parser("directory", help="the directory of agencies, programs, staff")
    dsub = directory.add_subparsers(title="directory commands")
    imp = dsub.add_parser(
        "import", help="import a directory file, or Open Referral HSDS 3.0 (idempotent)"
    )
    imp.add_argument("file", type=Path, help="the file; for HSDS a CSV package folder or JSON")
    imp.add_argument("--format", choices=["closeloop", "hsds"], default="closeloop")
    imp.add_argument("--overlay", type=Path, help="HSDS: roles, MOUs and mappings HSDS lacks")
    imp.add_argument("--progress", action="store_true", help="a progress bar even off a terminal")
    imp.set_defaults(run=_directory_import)
    exp = dsub.add_parser("export", help="write the directory as Open Referral HSDS 3.0")
    exp.add_argument("--format", choices=["hsds"], default="hsds")
    exp.add_argument(
        "--out", type=Path, required=True, help="a folder (CSV data package) or a .json file"
    )
    exp.set_defaults(run=_directory_export)
    token = sub.add_parser("token", help="bearer tokens for the REST API")
    tsub = token.add_subparsers(title="token commands")
    create = tsub.add_parser("create", help="issue a token to a staff member (printed once)")
    create.add_argument("--staff", required=True, metavar="EMAIL")
    create.set_defaults(run=_token_create)
    revoke = tsub.add_parser("revoke", help="revoke every token of a staff member")
    revoke.add_argument("--staff", required=True, metavar="EMAIL")
    revoke.set_defaults(run=_token_revoke)
    acc = sub.add_parser("access", help="staff access (security officers work from Slack/web)")
    asub = acc.add_subparsers(title="access commands")
    restore = asub.add_parser(
        "restore", help="give back access that was removed (revoked or idle 90 days)"
    )
    restore.add_argument("--staff", required=True, metavar="EMAIL")
    restore.set_defaults(run=_access_restore)
    return parser


def _access_restore(settings: Settings, args: argparse.Namespace) -> int:
    from bot.domain.vocab import Channel
    from bot.services.access import restore_access
    from storage.db import transaction

    with transaction(_runtime(settings).sessions) as session:
        said = restore_access(session, staff_email=args.staff, channel=Channel.CLI)
    print(f"closeloop: {said}")
    return 0


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.runtime import Runtime

    return Runtime(settings)


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    runtime = _runtime(settings)
    upgrade(runtime.engine)
    print("closeloop: database is up to date")
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from bot.context import today
    from bot.demo.referrals import DEMO_HISTORY_DAYS, seed_demo_referrals
    from bot.demo.seed import has_referrals, is_empty, seed_demo
    from storage.db import transaction

    runtime = _runtime(settings)
    with transaction(runtime.sessions) as session:
        if args.if_empty and not is_empty(session):
            print("closeloop: the database already has a directory; demo network not loaded")
            return 0
        # Agreements signed before the oldest demo referral (bot/demo/referrals.py).
        result = seed_demo(session, today(session) - timedelta(days=DEMO_HISTORY_DAYS))
        with_referrals = not has_referrals(session)
    print(f"closeloop: demo network loaded. {result.summary()}")
    if with_referrals:
        made = seed_demo_referrals(runtime)
        numbers = sorted(number for number, _stage in made)
        print(
            f"closeloop: {len(made)} demo referrals at every stage ({numbers[0]} to {numbers[-1]})"
        )
    return 0


def _directory_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.interop.progress import progress_bar
    from bot.services.directory import import_directory, read_directory_file
    from bot.services.hsds import import_hsds, read_hsds, read_overlay
    from storage.db import transaction

    runtime = _runtime(settings)
    with progress_bar(forced=args.progress) as bar:
        if args.format == "hsds":
            overlay = read_overlay(args.overlay)
            bar.phase("reading", None)
            data = read_hsds(args.file, bar.tick)
            bar.phase("importing", None)
            with transaction(runtime.sessions) as session:
                report = import_hsds(
                    session, data=data, overlay=overlay, source=str(args.file), progress=bar.tick
                )
            summary = report.summary()
        else:
            directory = read_directory_file(args.file)
            total = (
                len(directory.regions)
                + len(directory.counties)
                + len(directory.services)
                + sum(1 + len(a.programs) for a in directory.agencies)
                + len(directory.staff)
            )
            bar.phase("importing", total)
            with transaction(runtime.sessions) as session:
                summary = import_directory(
                    session, directory=directory, source=str(args.file), progress=bar.tick
                ).summary()
    print(f"closeloop: {summary}")
    return 0


def _directory_export(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bot.interop.hsds_write import organizations_json, write_package
    from bot.services.hsds import export_hsds
    from storage.db import transaction

    with transaction(_runtime(settings).sessions) as session:
        data = export_hsds(session)
    if args.out.suffix.lower() == ".json":
        args.out.write_text(json.dumps(organizations_json(data), indent=2) + "\n", encoding="utf-8")
    else:
        write_package(data, args.out)
    print(
        f"closeloop: {len(data.organizations)} organizations, {len(data.services)} services "
        f"written to {args.out}"
    )
    return 0


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.api_tokens import issue_token
    from storage.db import transaction

    with transaction(_runtime(settings).sessions) as session:
        secret = issue_token(session, email=args.staff)
    # Only the hash is stored: this is the one time the token can be seen.
    print(secret)
    return 0


def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.api_tokens import revoke_tokens
    from storage.db import transaction

    with transaction(_runtime(settings).sessions) as session:
        count = revoke_tokens(session, email=args.staff)
    print(f"closeloop: revoked {count} token(s) of {args.staff}")
    return 0


def _slack_manifest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.errors import InvalidInput
    from handlers.slack.manifest import manifest_yaml

    try:
        text = manifest_yaml(args.url or settings.public_url)
    except ValueError as exc:
        raise InvalidInput(f"--url: {exc}", field="url") from None
    sys.stdout.write(text)
    return 0


def _email_parse(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from handlers.email.reading import to_json
    from handlers.email.replies import read_inbound

    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    print(json.dumps(to_json(read_inbound(raw, settings)), indent=2, ensure_ascii=False))
    return 0


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.digests import digest_text_for_channel
    from storage.db import transaction

    with transaction(_runtime(settings).sessions) as session:
        print(digest_text_for_channel(session, channel=args.channel))
    return 0


def _job(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs import jobs, run_job
    from bot.runtime import Runtime

    names = [j.name for j in jobs(settings.digest_time)]
    if args.name not in names:
        print(f"closeloop: no job {args.name!r}; jobs: {', '.join(names)}", file=sys.stderr)
        return 2
    if args.at is None:
        runtime, when = Runtime(settings), ""
    else:
        moment = _moment(args.at, settings.zone)
        runtime = Runtime(settings, clock=lambda: moment)
        when = f" as of {moment.astimezone(settings.zone):%Y-%m-%d %H:%M %Z}"
    written = run_job(args.name, runtime)
    print(f"closeloop: {args.name}{when} wrote {written} notification(s)")
    return 0


def _moment(text: str, zone: tzinfo) -> datetime:
    """`--at`: ISO 8601; without an offset it is the network's local time."""
    from bot.errors import InvalidInput

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--at {text!r} is not a date and time (e.g. 2027-11-30T06:00)", field="at"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.demo.loop import run_demo

    run_demo(sys.stdout)
    return 0


def _web(settings: Settings, _args: argparse.Namespace) -> int:
    refuse_development_key(settings)
    import uvicorn

    from bot.app import create_app
    from bot.processes import favour_event_loop, settle_heap

    app = create_app(settings)
    favour_event_loop()
    settle_heap()
    # log_config=None: uvicorn's lines go through our handler (LOG_FORMAT), one format.
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    refuse_development_key(settings)
    from bot.processes import run_worker

    run_worker(_runtime(settings))
    return 0


def _clock(settings: Settings, _args: argparse.Namespace) -> int:
    refuse_development_key(settings)
    from bot.processes import run_clock

    run_clock(_runtime(settings))
    return 0


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    refuse_development_key(settings)
    from bot.processes import serve

    serve(_runtime(settings))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
