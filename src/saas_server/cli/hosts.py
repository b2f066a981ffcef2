"""``saas hosts ...``: the admin API's Odoo-host commands, on the command line.

The platform's modules are imported inside each command, not here: `saas --help` and
`saas version` start without loading the API, its routers and every domain behind them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from saas_server.cli.common import console, load_settings, read_secret_from_stdin, run
from saas_server.cli.output import JsonOption, print_json, print_rows

hosts_app = typer.Typer(help="Manage the Odoo servers tenants are placed on.", no_args_is_help=True)


@hosts_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="A unique name for the host.")],
    url: Annotated[
        str, typer.Option(help="Base URL of the Odoo server, e.g. http://10.0.0.5:8069.")
    ],
    odoo_version: Annotated[str, typer.Option(help="17.0, 18.0 or 19.0.")],
    capacity: Annotated[int, typer.Option(help="How many tenant databases it may hold.")],
    postgres_url: Annotated[
        str | None, typer.Option(help="SQL access to the host's PostgreSQL (stop/start, sizes).")
    ] = None,
    master_password_stdin: Annotated[
        bool, typer.Option("--master-password-stdin", help="Read the master password from stdin.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Register an Odoo host."""
    from saas_server.instances import service as instances
    from saas_server.instances.hosts.router import host_read
    from saas_server.instances.hosts.service import HostService
    from saas_server.wiring import open_runtime

    settings = load_settings()
    if master_password_stdin:
        master_password = read_secret_from_stdin("master password")
    else:
        master_password = typer.prompt("Master password", hide_input=True)

    async def _add() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            async with runtime.db.transaction() as session:
                host = await HostService(session, runtime).add(
                    name=name,
                    url=url,
                    master_password=master_password,
                    odoo_version=odoo_version,
                    capacity=capacity,
                    postgres_url=postgres_url,
                )
                waiting = await instances.resume_waiting(session, runtime, host.odoo_version)
                added = await host_read(HostService(session, runtime), host)
            if as_json:
                print_json(added)
                return
            console.print(
                f"Added host {host.name} {host.id} (Odoo {host.odoo_version}, {host.status})"
                + (f"; {waiting} waiting instance(s) resumed." if waiting else "."),
                highlight=False,
            )

    run(_add())


@hosts_app.command("list")
def list_hosts(as_json: JsonOption = False) -> None:
    """List the Odoo hosts with their status and load."""
    from saas_server.instances.hosts import standby
    from saas_server.instances.hosts.router import host_read
    from saas_server.instances.hosts.service import HostService
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _list() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            async with runtime.db.transaction() as session:
                service = HostService(session, runtime)
                standbys = await standby.ready_counts(session)
                hosts = [
                    await host_read(
                        service, row.host, row.instance_count, standbys.get(row.host.id, 0)
                    )
                    for row in await service.list_with_load()
                ]
        if as_json:
            print_json(hosts)
            return
        print_rows(
            ("id", "name", "url", "version", "status", "load"),
            (
                (
                    str(host.id),
                    host.name + (" (emulator)" if host.is_emulator else ""),
                    host.url,
                    host.odoo_version,
                    host.status,
                    f"{host.instance_count}/{host.capacity}",
                )
                for host in hosts
            ),
        )

    run(_list())


def _by_name(action: str, name: str) -> None:
    from saas_server.instances.hosts.service import HostService
    from saas_server.wiring import open_runtime

    settings = load_settings()

    async def _act() -> None:
        async with open_runtime(settings, migrate=True) as runtime:
            async with runtime.db.transaction() as session:
                service = HostService(session, runtime)
                host = await service.get_by_name(name)
                if action == "drain":
                    await service.drain(host)
                else:
                    await service.remove(host)
        console.print(f"Host {name} {'is draining' if action == 'drain' else 'removed'}.")

    run(_act())


@hosts_app.command("drain")
def drain(name: Annotated[str, typer.Argument(help="The host's name.")]) -> None:
    """Stop placing new tenants on a host (its instances keep running)."""
    _by_name("drain", name)


@hosts_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The host's name.")]) -> None:
    """Forget a host that holds no instances."""
    _by_name("remove", name)
