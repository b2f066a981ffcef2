"""The ``saas`` command line."""

from __future__ import annotations

import signal
import socket
from typing import Annotated

import typer

from saas_server import __version__
from saas_server.cli.admin import admin_app
from saas_server.cli.audit import audit_app
from saas_server.cli.backups import backups_app
from saas_server.cli.billing import billing_app
from saas_server.cli.common import console, fail, load_settings, read_secret_from_stdin, run
from saas_server.cli.docs import docs_app
from saas_server.cli.hosts import hosts_app
from saas_server.cli.metrics import metrics_app
from saas_server.cli.odoo_emulator import odoo_emulator
from saas_server.cli.openapi import OpenApiCommand, openapi
from saas_server.cli.security import security_app
from saas_server.cli.webhooks import webhooks_app
from saas_server.wiring import wire

app = typer.Typer(
    name="saas",
    help="Run and operate the Odoo SaaS platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(hosts_app, name="hosts")
app.add_typer(backups_app, name="backups")
app.add_typer(billing_app, name="billing")
app.add_typer(docs_app, name="docs")
app.add_typer(security_app, name="security")
app.add_typer(metrics_app, name="metrics")
app.add_typer(webhooks_app, name="webhooks")
app.command("odoo-emulator")(odoo_emulator)
app.command("openapi", cls=OpenApiCommand)(openapi)

# Commands that open no runtime, spared importing every domain.
UNWIRED_COMMANDS = frozenset({"version", "odoo-emulator"})


@app.callback()
def _wire(ctx: typer.Context) -> None:
    # Every command opening a runtime needs the process wired first (saas_server.wiring).
    if ctx.invoked_subcommand not in UNWIRED_COMMANDS:
        from saas_server.wiring import wire

        wire()


@app.command()
def version() -> None:
    """Print the platform version."""
    console.print(__version__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool | None, typer.Option("--worker/--no-worker", help="Run a job worker in-process.")
    ] = None,
) -> None:
    """Apply migrations, then serve the API (with an in-process job worker by default)."""
    import uvicorn

    from saas_server.app import create_app
    from saas_server.core.serving import DataDirLock, listen_or_explain
    from saas_server.wiring import start_runtime

    settings = load_settings()
    run_worker = settings.serve_worker if worker is None else worker

    async def _serve() -> None:
        from saas_server.cli.next_steps import print_next_steps
        from saas_server.instances.hosts.emulator import BuiltinEmulator

        # A process that cannot serve changes nothing: the port is bound, and the data dir
        # (whose built-in emulator host every serving process would re-register) claimed,
        # before migrations, the emulator or any registration.
        listener = listen_or_explain(host, port, "the API", "another `saas serve`")
        data_dir_lock = DataDirLock(settings.data_dir)
        try:
            if settings.odoo_emulator != "off":
                data_dir_lock.acquire()
            runtime = await start_runtime(settings, migrate=True)
        except BaseException:
            listener.close()
            data_dir_lock.release()
            raise
        emulator = BuiltinEmulator(runtime)
        try:
            await emulator.start()
            api = create_app(settings, runtime=runtime, run_worker=run_worker)
            config = uvicorn.Config(
                api, host=host, port=port, log_config=None, proxy_headers=True, access_log=False
            )
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to
            # the handler installed before it; with these no-op handlers that re-raise returns
            # here, so the emulator and the runtime (and the embedded PostgreSQL) close cleanly.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: None)
            bound_port = listener.getsockname()[1]

            class AnnouncingServer(uvicorn.Server):
                """Says where to go next once it is true: after the app started, on the socket
                that is ours."""

                async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                    await super().startup(sockets=sockets)
                    await print_next_steps(
                        runtime,
                        host=host,
                        port=bound_port,
                        emulator_urls=list(emulator.urls.values()),
                    )

            await AnnouncingServer(config).serve(sockets=[listener])
        finally:
            listener.close()
            await emulator.stop()
            await runtime.close()
            data_dir_lock.release()

    run(_serve())


@app.command()
def worker(
    queues: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to listen on (repeatable).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
) -> None:
    """Run a job worker (any number can run, on any machine reaching the database)."""
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _work() -> None:
        async with open_runtime(settings) as runtime:
            console.print("Worker started; Ctrl-C stops it after the running jobs.")
            await runtime.run_worker(
                queues=queues or None,
                concurrency=concurrency or settings.worker_concurrency,
                install_signal_handlers=True,
            )

    run(_work())


@app.command()
def migrate() -> None:
    """Apply database migrations (the platform's tables and the job queue's schema)."""
    from saas_server.core.migrations import current_heads
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _migrate() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            heads = current_heads(runtime.database_url)
            console.print(f"Database is at revision {', '.join(sorted(heads)) or 'none'}.")

    run(_migrate())


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Email address of the administrator.")],
    full_name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make an existing user a platform admin.")
    ] = False,
) -> None:
    """Create a platform administrator (or promote an existing user with --promote)."""
    from saas_server.users import service as users
    from saas_server.wiring import open_runtime

    settings = load_settings()
    password: str | None = None
    if not promote:
        if password_stdin:
            password = read_secret_from_stdin("password")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def _create() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            async with runtime.db.transaction() as session:
                existing = await users.find_by_email(session, email)
                if promote:
                    if existing is None:
                        fail(f"No user has the email {email}.")
                    await users.make_platform_admin(session, existing)
                    console.print(f"{existing.email} is now a platform admin.")
                    return
                if existing is not None:
                    fail(f"A user with the email {email} exists already; use --promote.")
                assert password is not None
                user = await users.create_platform_admin(
                    session, email=email, password=password, full_name=full_name
                )
                console.print(f"Created platform admin {user.email} ({user.id}).")

    run(_create())


def main() -> None:
    wire()
    app()


if __name__ == "__main__":
    main()
