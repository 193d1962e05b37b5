"""The `haven` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from haven.config import Settings, SettingsError
from haven.runtime import Runtime


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings.from_env(
        None,
        data_dir=getattr(args, "data_dir", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        **extra,
    )


@contextmanager
def _opened(settings: Settings) -> Iterator[Runtime]:
    """The runtime of a command, its database migrated to the current schema; closed when done."""
    from haven.migrate import upgrade

    runtime = Runtime.start(settings)
    try:
        upgrade(runtime.db)
        yield runtime
    finally:
        runtime.close()


def _serve(settings: Settings) -> None:
    import uvicorn

    from haven.app import create_app

    settings.check()
    # No core dumps: a crashed process must not leave unlocked keys or plaintext on disk.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server_options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # the access log records client addresses
        "log_level": settings.log_level.lower(),
        "server_header": False,
        "date_header": False,
    }
    workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
    print(f"Haven is serving on http://{settings.host}:{settings.port}/{workers} (desk: /desk/)", flush=True)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **server_options)
        return
    # Each worker is a fresh process that builds its own app from the environment: hand it these settings.
    os.environ.update(settings.as_environment())
    uvicorn.run("haven.app:app_from_environment", factory=True, workers=settings.workers, **server_options)


def cmd_init(args: argparse.Namespace) -> int:
    from haven.bootstrap import init_organisation, is_initialised

    settings = _settings(args)
    with _opened(settings) as runtime:
        if is_initialised(runtime):
            print(f"{settings.data_dir} already holds an organisation; nothing changed.", file=sys.stderr)
            return 1
        result = init_organisation(runtime, name=args.name, admin_username=args.admin, kdf=runtime.kdf)
    print(
        "\n".join(
            [
                f"Organisation created in {settings.data_dir}.",
                "",
                "OFFLINE RECOVERY KEY — printed this once and never stored. Write it on paper and keep",
                "it away from this server; it opens every team's cases if all admins are lost:",
                "",
                f"    {result.recovery_key}",
                "",
                f"First admin: {result.admin_username}",
                f"Temporary passphrase (change it at first login): {result.admin_passphrase}",
                f"TOTP secret (add it to an authenticator app): {result.totp_secret}",
            ]
        )
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from haven.bootstrap import is_initialised, seed_demo

    settings = _settings(args, demo=True)
    credentials = settings.data_dir / "demo-credentials.json"
    with _opened(settings) as runtime:
        if not is_initialised(runtime):
            seed_demo(runtime, settings.data_dir)
    print(f"Demo credentials: {credentials}")
    print(f"A current one-time code: haven totp --data-dir {settings.data_dir} USERNAME")
    if args.no_serve:
        return 0
    _serve(settings)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, workers=args.workers).check()
    with _opened(settings):
        pass
    _serve(settings)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _opened(settings):
        print("Database is at the current schema.")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    """Add many realistic sealed cases to a demo organisation, for benchmarks (never to a real one)."""
    from haven.seeding import Progress, SeedingError, seed_cases

    settings = _settings(args)
    if not (settings.data_dir / "demo-credentials.json").exists():
        print(
            f"{settings.data_dir} holds no demo organisation: seed only what `haven demo` made.",
            file=sys.stderr,
        )
        return 1
    last = [0.0]

    def report(p: Progress) -> None:
        if p.done == p.total or p.seconds - last[0] >= 5:
            last[0] = p.seconds
            print(f"{p.done:,} / {p.total:,} cases, {p.rate:,.0f} cases/s", flush=True)

    with _opened(settings) as runtime:
        try:
            seed_cases(
                db=runtime.db,
                pepper=runtime.secrets.receipt_pepper,
                count=args.cases,
                closed_share=args.closed_share,
                workers=args.workers,
                progress=report,
            )
        except SeedingError as exc:
            print(f"haven seed: {exc}", file=sys.stderr)
            return 1
    return 0


def cmd_totp(args: argparse.Namespace) -> int:
    """Print a demo user's current code (reads demo-credentials.json; real secrets are never on disk)."""
    from haven.accounts.totp import current_code

    path = Path(args.data_dir) / "demo-credentials.json"
    if not path.exists():
        print(f"No {path}: this is only for a demo made by `haven demo`.", file=sys.stderr)
        return 1
    users = {u["username"]: u for u in json.loads(path.read_text(encoding="utf-8"))["users"]}
    if args.username not in users:
        print(f"No demo user {args.username!r}; there are: {', '.join(users)}", file=sys.stderr)
        return 1
    print(current_code(users[args.username]["totp_secret"]))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a backup sealed to the organisation's offline recovery key, while the server runs."""
    from haven.backup import BackupError, back_up

    try:
        size = back_up(_settings(args), Path(args.out))
    except (BackupError, OSError) as exc:
        print(f"haven backup: {exc}", file=sys.stderr)
        return 1
    print(f"Backup written to {args.out} ({size:,} bytes); only the offline recovery key opens it.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into an empty data dir or database; the recovery key is read, never an argument."""
    import getpass

    from haven.backup import BackupError
    from haven.restore import parse_recovery_key, restore

    settings = _settings(args)
    try:
        if args.recovery_key_file:
            typed = Path(args.recovery_key_file).read_text(encoding="utf-8")
        elif sys.stdin.isatty():
            typed = getpass.getpass("Offline recovery key: ")
        else:
            typed = sys.stdin.readline()
        restored = restore(settings, Path(args.archive), parse_recovery_key(typed))
    except (BackupError, OSError) as exc:
        print(f"haven restore: {exc}", file=sys.stderr)
        return 1
    print(f"Restored into {restored.where}. Serve it with: haven serve --data-dir {settings.data_dir}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Crypto-shred the cases past their retention; with --dry-run, only say which would go."""
    from haven.retention.report import expiring_table, rules_table
    from haven.retention.services import expiring, purge

    settings = _settings(args)
    if settings.uses_sqlite and not (settings.data_dir / "haven.db").exists():
        print(f"haven purge: {settings.data_dir} holds no database; nothing to purge.", file=sys.stderr)
        return 1
    with _opened(settings) as runtime:
        rules = runtime.catalogue.retention
        print("Retention, in days since a case's last activity (questionnaires.toml):")
        print("\n".join(rules_table(rules, runtime.catalogue.types)))
        if args.dry_run:
            found = expiring(db=runtime.db, rules=rules)
            if not found:
                print("No case is past its retention. Dry run: nothing was changed.")
                return 0
            print(f"{sum(line.cases for line in found)} cases would be purged:")
            print("\n".join(expiring_table(found)))
            print("Dry run: nothing was changed.")
            return 0
        report = purge(db=runtime.db, rules=rules, forget=runtime.forget_cases)
    if not report.purged:
        print("No case is past its retention; nothing was purged.")
        return 0
    print(f"Purged {report.cases} cases (their keys and content deleted):")
    print("\n".join(expiring_table(report.purged)))
    print("Their numbers live on as anonymous monthly counts.")
    if report.shredded is not None:
        print(f"Afterwards {report.shredded.how}.")
    return 0


def cmd_telegram_poll(args: argparse.Namespace) -> int:
    """Fetch the bot's updates from Telegram until interrupted (for a server Telegram cannot reach)."""
    import signal
    import threading

    from haven.channels.telegram.polling import poll

    settings = _telegram_settings(args)
    if settings is None:
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with _opened(settings) as runtime:
        assert runtime.telegram is not None
        assert runtime.telegram_api is not None
        runtime.start_channels()
        print("Haven's Telegram bot is polling for updates; Ctrl-C stops it.", flush=True)
        poll(runtime.telegram, runtime.telegram_api, stop=stop, timeout=args.timeout)
    return 0


def cmd_telegram_webhook(args: argparse.Namespace) -> int:
    """Tell Telegram to post the bot's updates to this server's /telegram/webhook."""
    from haven.channels.outbox import DeliveryFailed

    settings = _telegram_settings(args)
    if settings is None:
        return 2
    url = args.url.rstrip("/")
    if not url.startswith("https://"):
        print("haven telegram webhook: Telegram posts only to https:// addresses", file=sys.stderr)
        return 2
    if not url.endswith("/telegram/webhook"):
        url += "/telegram/webhook"
    with _opened(settings) as runtime:
        assert runtime.telegram_api is not None
        try:
            runtime.telegram_api.set_webhook(url=url, secret=settings.telegram_webhook_secret)
        except DeliveryFailed as failure:
            print(f"haven telegram webhook: Telegram did not take it ({failure.code})", file=sys.stderr)
            return 1
    print(f"Telegram now posts the bot's updates to {url}.")
    return 0


def cmd_procedures_check(args: argparse.Namespace) -> int:
    """Check procedure files; every mistake is printed as file:line: field: what is wrong."""
    from haven.cases.procedure_files import ProcedureError, load_file

    failed = False
    for name in args.files:
        try:
            procedure = load_file(Path(name))
        except ProcedureError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        print(f"{name}: {procedure.id}, {len(procedure.steps)} steps: ok")
    return 1 if failed else 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the funnel per month or week, split by request type, channel or language (exact: for the
    organisation, never for publication). Languages are sealed: --as names whose keys open them."""
    from haven.stats.figures import funnel, workload
    from haven.stats.terminal import SPLITS, NotCounted, funnel_table, languages

    if args.by == "language" and not args.as_user:
        print(
            "haven stats: languages are sealed, so counting them needs a coordinator's keys: "
            "add --as USERNAME (you will be asked for the passphrase and one-time code)",
            file=sys.stderr,
        )
        return 2
    with _opened(_settings(args)) as runtime:
        try:
            table, notes = (
                languages(runtime, args.as_user, per=args.per)
                if args.by == "language"
                else (funnel(db=runtime.db, per=args.per, by=args.by), [])
            )
        except NotCounted as refused:
            print(f"haven stats: {refused}", file=sys.stderr)
            return 2
        load = workload(db=runtime.db)
    print("\n".join(funnel_table(table, per=args.per, part_heading=SPLITS.get(args.by, ""))))
    print("\n".join(["", *notes]))
    print(f"Open cases past their step's due time: {sum(load.overdue_by_step.values()):,}")
    print(f"Open cases whose requester missed a check-in: {load.missed_check_ins:,}")
    print(
        "Open cases by team: " + (", ".join(f"{t} {n:,}" for t, n in sorted(load.by_team.items())) or "none")
    )
    print("These are exact counts: publish only what `haven stats publish` draws under the rules.")
    return 0


def cmd_stats_publish(args: argparse.Namespace) -> int:
    """Publish every month the rules allow (stats/public.py); prints what was drawn and spent."""
    from datetime import UTC, datetime

    from haven.audit.services import SYSTEM
    from haven.stats.privacy import BudgetExhausted
    from haven.stats.public import publication_of, publish

    settings = _settings(args)
    publication = publication_of(settings)
    with _opened(settings) as runtime:
        try:
            done = publish(
                db=runtime.db, publication=publication, today=datetime.now(UTC).date(), actor=SYSTEM
            )
        except BudgetExhausted as exc:
            print(f"haven stats publish: nothing published: {exc}", file=sys.stderr)
            return 1
    if not done.figures:
        print("Nothing new to publish: every month the rules allow is published already.")
        return 0
    print(
        f"Published {done.figures} figures for {done.months} months (privacy budget spent: {done.epsilon:g})."
    )
    return 0


def _telegram_settings(args: argparse.Namespace) -> Settings | None:
    settings = _settings(args).check()
    if not settings.telegram_enabled:
        print("haven telegram: set HAVEN_TELEGRAM_TOKEN (from @BotFather) first", file=sys.stderr)
        return None
    return settings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="haven", description="Haven: a secure, anonymous helpline and case desk."
    )
    commands = top.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--data-dir", help="where the database and server key live (default: $HAVEN_DATA_DIR or ./data)"
        )
        return p

    def with_address(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port to listen on (default 8000)")
        return p

    init = with_data_dir(commands.add_parser("init", help="create a real organisation and its first admin"))
    init.add_argument("--name", default="Haven", help="the organisation's name")
    init.add_argument("--admin", default="admin", help="the first admin's username")
    init.set_defaults(func=cmd_init)

    demo = with_address(
        with_data_dir(commands.add_parser("demo", help="seed a demo organisation and serve it"))
    )
    demo.add_argument("--no-serve", action="store_true", help="seed only")
    demo.set_defaults(func=cmd_demo)

    serve = with_address(with_data_dir(commands.add_parser("serve", help="serve Haven")))
    serve.add_argument(
        "--workers", type=int, help="worker processes (default 1; more need PostgreSQL and Redis)"
    )
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    with_data_dir(
        db_commands.add_parser("upgrade", help="migrate the database to the current schema")
    ).set_defaults(func=cmd_db_upgrade)

    seed = with_data_dir(
        commands.add_parser("seed", help="add many realistic cases to a demo, for benchmarks")
    )
    seed.add_argument("--cases", type=int, required=True, help="how many cases to add")
    seed.add_argument("--closed-share", type=float, default=0.9, help="the share of closed cases (0.9)")
    seed.add_argument("--workers", type=int, help="processes that seal cases (default: one per core)")
    seed.set_defaults(func=cmd_seed)

    code = commands.add_parser("totp", help="print a demo user's current one-time code")
    code.add_argument("--data-dir", default="data")
    code.add_argument("username")
    code.set_defaults(func=cmd_totp)

    backup = with_data_dir(
        commands.add_parser("backup", help="write a backup sealed to the offline recovery key")
    )
    backup.add_argument("--out", required=True, help="the backup file to write")
    backup.set_defaults(func=cmd_backup)

    restore = with_data_dir(
        commands.add_parser("restore", help="restore a backup into an empty data dir or database")
    )
    restore.add_argument("--in", dest="archive", required=True, help="the backup file to read")
    restore.add_argument(
        "--recovery-key-file", help="read the recovery key from this file (default: ask for it)"
    )
    restore.set_defaults(func=cmd_restore)

    purge = with_data_dir(
        commands.add_parser("purge", help="crypto-shred the cases past their retention (questionnaires.toml)")
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="only print what would be purged; change nothing"
    )
    purge.set_defaults(func=cmd_purge)

    stats = with_data_dir(
        commands.add_parser("stats", help="the funnel per month or week, exact (not for publication)")
    )
    stats.add_argument(
        "--per", choices=("month", "week"), default="month", help="one row per month (default) or week"
    )
    stats.add_argument(
        "--by",
        choices=("type", "channel", "language"),
        help="split each month or week by request type, channel or language",
    )
    stats.add_argument(
        "--as",
        dest="as_user",
        metavar="USERNAME",
        help="for --by language: the coordinator whose keys open the sealed languages (asks for the "
        "passphrase and one-time code; read from stdin when it is not a terminal)",
    )
    stats.set_defaults(func=cmd_stats)
    stats_commands = stats.add_subparsers(dest="stats_command")
    publish = with_data_dir(
        stats_commands.add_parser("publish", help="publish the months the rules allow (HAVEN_STATS_*)")
    )
    publish.set_defaults(func=cmd_stats_publish)

    procedures = commands.add_parser("procedures", help="procedure files (docs/procedures.md)")
    procedures_commands = procedures.add_subparsers(dest="procedures_command", required=True)
    check = procedures_commands.add_parser("check", help="check procedure files; exit 1 naming each mistake")
    check.add_argument("files", nargs="+", help="the YAML files to check")
    check.set_defaults(func=cmd_procedures_check)

    telegram = commands.add_parser("telegram", help="the Telegram bot (HAVEN_TELEGRAM_TOKEN)")
    telegram_commands = telegram.add_subparsers(dest="telegram_command", required=True)
    poll = with_data_dir(
        telegram_commands.add_parser("poll", help="fetch updates from Telegram (no public address needed)")
    )
    poll.add_argument("--timeout", type=int, default=25, help="seconds each long poll waits (default 25)")
    poll.set_defaults(func=cmd_telegram_poll)
    webhook = with_data_dir(
        telegram_commands.add_parser("webhook", help="have Telegram post updates to this server instead")
    )
    webhook.add_argument("--url", required=True, help="this server's public https:// address")
    webhook.set_defaults(func=cmd_telegram_webhook)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from haven.cases.procedure_files import ProcedureError

    try:
        result: int = args.func(args)
    except SettingsError as exc:
        print(f"haven: {exc}", file=sys.stderr)
        return 2
    except ProcedureError as exc:
        print(f"haven: a procedure file is wrong:\n{exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
