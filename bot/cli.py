"""The `closeloop` command: the Procfile's processes, migrations, the directory and the demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.errors import UserError
from bot.keys import refuse_development_key, with_local_key
from bot.logs import install as install_log_redaction
from bot.settings import Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    install_log_redaction()
    try:
        settings = with_local_key(load_settings())
        return int(args.run(settings, args) or 0)
    except SettingsError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="closeloop", description=__doc__)
    sub = parser.add_subparsers(title="commands")

    def command(name: str, help_text: str, run: object) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    command("serve", "web, worker and clock in one process (the embedded default)", _serve)
    command("web", "the web process: Slack endpoint, API, health", _web)
    command("worker", "the worker process: outbox dispatcher and inbox listener", _worker)
    command("clock", "the clock process: scheduled jobs", _clock)
    command("migrate", "create or upgrade the database schema", _migrate)
    seed = command("seed", "load the demo network (Missouri) into the database", _seed)
    seed.add_argument("--if-empty", action="store_true", help="only when the database is empty")
    command("demo", "run a whole referral loop on a throwaway database and print it", _demo)
    digest = command("digest", "print a region's coordinator digest (last 24 hours)", _digest)
    digest.add_argument("--channel", required=True, help="the region's digest channel id")
    job = command("job", "run one scheduled job now (idempotent)", _job)
    job.add_argument("name", help="e.g. coordinator_digests, thirty_day_reminders")
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
    from bot.demo.seed import is_empty, seed_demo
    from storage.db import transaction

    runtime = _runtime(settings)
    with transaction(runtime.sessions) as session:
        if args.if_empty and not is_empty(session):
            print("closeloop: the database already has a directory; demo network not loaded")
            return 0
        result = seed_demo(session, today(session))
    print(f"closeloop: demo network loaded. {result.summary()}")
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

    names = [j.name for j in jobs(settings.digest_time)]
    if args.name not in names:
        print(f"closeloop: no job {args.name!r}; jobs: {', '.join(names)}", file=sys.stderr)
        return 2
    print(f"closeloop: {args.name} wrote {run_job(args.name, _runtime(settings))} notification(s)")
    return 0


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
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
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
