"""The HTML Odoo's web routes answer: werkzeug redirects and error pages, the login form
and the database manager (its content is the emulator's own; what clients read from them,
the forms' fields, the CSRF token and the error texts, is Odoo's)."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from odoo_emulator.jsonrpc import HTML


def escape(text: str) -> str:
    """HTML escaping as markupsafe does it (``&#39;``, ``&#34;`` for quotes), as Odoo's
    pages show."""
    return html.escape(text).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="utf-8"/>\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def login_page(
    csrf_token: str,
    db: str,
    databases: list[str] | None,
    error: str | None,
    login: str,
    redirect: str | None,
) -> str:
    error_html = f'<p class="alert alert-danger" role="alert">{escape(error)}</p>' if error else ""
    redirect_html = (
        f'<input type="hidden" name="redirect" value="{escape(redirect)}"/>' if redirect else ""
    )
    selector = ""
    if databases and len(databases) > 1:
        selector = f'<p>Database: <a href="/web/database/selector">{escape(db)}</a></p>'
    body = (
        '<form class="oe_login_form" role="form" action="/web/login" method="post">\n'
        f'<input type="hidden" name="csrf_token" value="{csrf_token}"/>\n{selector}\n'
        '<label for="login">Email</label>\n'
        f'<input type="text" name="login" id="login" value="{escape(login)}"'
        ' required="required"/>\n'
        '<label for="password">Password</label>\n'
        '<input type="password" name="password" id="password" required="required"/>\n'
        f"{error_html}\n{redirect_html}\n"
        '<button type="submit">Log in</button>\n</form>'
    )
    return page("Login | Odoo", body)


MANAGER_FORMS = (
    (
        "create",
        '<input name="master_pwd"/><input name="name"/><input name="login"/>'
        '<input name="password"/><input name="lang" value="en_US"/><input name="phone"/>',
    ),
    ("duplicate", '<input name="master_pwd"/><input name="name"/><input name="new_name"/>'),
    ("drop", '<input name="master_pwd"/><input name="name"/>'),
    (
        "backup",
        '<input name="master_pwd"/><input name="name"/><input name="backup_format" value="zip"/>',
    ),
    (
        "restore",
        '<input name="master_pwd"/><input type="file" name="backup_file"/><input name="name"/>'
        '<input name="copy" value="false"/>',
    ),
    ("change_password", '<input name="master_pwd"/><input name="master_pwd_new"/>'),
)


def database_manager_page(databases: list[str], error: str | None, *, manage: bool) -> str:
    error_html = (
        f'<div class="alert alert-danger" role="alert">{escape(error)}</div>\n' if error else ""
    )
    rows = "\n".join(
        f'<li><a href="/web?db={quote(name)}">{escape(name)}</a></li>' for name in databases
    )
    forms = ""
    if manage:
        parts = []
        for action, fields in MANAGER_FORMS:
            enctype = ' enctype="multipart/form-data"' if action == "restore" else ""
            parts.append(
                f'<form action="/web/database/{action}" method="post"{enctype}>'
                f"<h2>{action.title()}</h2>{fields}"
                f'<button type="submit">{action.title()}</button></form>'
            )
        forms = "\n".join(parts)
    return page("Odoo", f'{error_html}<ul class="list-group">\n{rows}\n</ul>\n{forms}')


def html_response(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=HTML)


def redirect(location: str, status: int = 303) -> Response:
    """werkzeug's redirect: the Location as given, and its small HTML page."""
    escaped = escape(location)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: "
        f'<a href="{escaped}">{escaped}</a>. If not, click the link.\n'
    )
    return Response(body, status_code=status, media_type=HTML, headers={"Location": location})


def path_and_query(request: Request) -> str:
    """The request's own URL, relative (werkzeug redirects keep Location relative)."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def str2bool(value: Any) -> bool:
    """odoo.tools.misc.str2bool without default: unknown words are a ValueError."""
    text = str(value).lower()
    if text in ("y", "yes", "1", "true", "t", "on"):
        return True
    if text in ("n", "no", "0", "false", "f", "off"):
        return False
    raise ValueError("Use 0/1/yes/no/true/false/on/off")
