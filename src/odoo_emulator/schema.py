"""The tables of an emulated Odoo database and the data ``create_database`` puts in them.

Table and column names are Odoo's own (a subset of what a real ``base`` install creates), so a
dump of a real Odoo database restored into the emulator is served as well. The base records
keep Odoo's ids (``base_data.sql`` and ``res_users_data.xml``): user 1 is ``__system__``
(inactive, partner "OdooBot"/"System"), user 2 the administrator ``common.authenticate``
answers, then the template and public users; partner 1 and company 1 are "My Company".
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from odoo_emulator import filestore
from odoo_emulator.versions import OdooVersion

DDL = """
CREATE TABLE res_currency (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    full_name varchar,
    symbol varchar NOT NULL,
    rounding numeric,
    decimal_places integer,
    position varchar,
    active boolean,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT res_currency_unique_name UNIQUE (name)
);
CREATE TABLE res_lang (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    code varchar NOT NULL,
    iso_code varchar,
    url_code varchar NOT NULL,
    active boolean,
    direction varchar NOT NULL,
    date_format varchar NOT NULL,
    time_format varchar NOT NULL,
    week_start varchar,
    grouping varchar NOT NULL,
    decimal_point varchar NOT NULL,
    thousands_sep varchar,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT res_lang_name_uniq UNIQUE (name),
    CONSTRAINT res_lang_code_uniq UNIQUE (code),
    CONSTRAINT res_lang_url_code_uniq UNIQUE (url_code)
);
CREATE TABLE res_partner (
    id serial PRIMARY KEY,
    name varchar,
    complete_name varchar,
    email varchar,
    phone varchar,
    street varchar,
    street2 varchar,
    zip varchar,
    city varchar,
    website varchar,
    vat varchar,
    ref varchar,
    function varchar,
    comment text,
    lang varchar,
    tz varchar,
    active boolean,
    is_company boolean,
    type varchar,
    parent_id integer REFERENCES res_partner ON DELETE SET NULL,
    company_id integer,
    commercial_partner_id integer REFERENCES res_partner ON DELETE SET NULL,
    partner_share boolean,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT res_partner_check_name CHECK (
        (type = 'contact' AND name IS NOT NULL) OR type != 'contact' OR type IS NULL
    )
);
CREATE INDEX res_partner_complete_name_index ON res_partner (complete_name);
CREATE TABLE res_company (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    partner_id integer NOT NULL REFERENCES res_partner ON DELETE RESTRICT,
    currency_id integer NOT NULL REFERENCES res_currency ON DELETE RESTRICT,
    sequence integer,
    parent_id integer REFERENCES res_company ON DELETE RESTRICT,
    email varchar,
    phone varchar,
    active boolean,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT res_company_name_uniq UNIQUE (name)
);
ALTER TABLE res_partner ADD CONSTRAINT res_partner_company_id_fkey
    FOREIGN KEY (company_id) REFERENCES res_company ON DELETE SET NULL;
CREATE TABLE res_users (
    id serial PRIMARY KEY,
    login varchar NOT NULL,
    password varchar,
    active boolean DEFAULT TRUE,
    partner_id integer NOT NULL REFERENCES res_partner ON DELETE RESTRICT,
    company_id integer NOT NULL REFERENCES res_company ON DELETE RESTRICT,
    share boolean,
    signature text,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT res_users_login_key UNIQUE (login)
);
CREATE TABLE res_users_settings (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES res_users ON DELETE CASCADE,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT res_users_settings_unique_user_id UNIQUE (user_id)
);
CREATE TABLE res_users_log (
    id serial PRIMARY KEY,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp
);
CREATE TABLE res_company_users_rel (
    cid integer NOT NULL REFERENCES res_company ON DELETE CASCADE,
    user_id integer NOT NULL REFERENCES res_users ON DELETE CASCADE,
    PRIMARY KEY (cid, user_id)
);
CREATE TABLE res_groups (
    id serial PRIMARY KEY,
    name jsonb NOT NULL,
    share boolean,
    comment jsonb,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp
);
CREATE TABLE res_groups_users_rel (
    gid integer NOT NULL REFERENCES res_groups ON DELETE CASCADE,
    uid integer NOT NULL REFERENCES res_users ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY,
    module varchar NOT NULL,
    name varchar NOT NULL,
    model varchar NOT NULL,
    res_id integer,
    noupdate boolean DEFAULT FALSE,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT ir_model_data_name_nospaces CHECK (name NOT LIKE '%% %%')
);
CREATE UNIQUE INDEX ir_model_data_module_name_uniq_index ON ir_model_data (module, name);
CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY,
    key varchar NOT NULL,
    value text NOT NULL,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key)
);
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    shortdesc jsonb,
    summary jsonb,
    author varchar,
    website varchar,
    license varchar(32),
    state varchar(16),
    latest_version varchar,
    application boolean DEFAULT FALSE,
    auto_install boolean DEFAULT FALSE,
    sequence integer DEFAULT 100,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT ir_module_module_name_uniq UNIQUE (name)
);
CREATE TABLE ir_attachment (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    description text,
    res_model varchar,
    res_field varchar,
    res_id integer,
    company_id integer REFERENCES res_company ON DELETE SET NULL,
    type varchar NOT NULL,
    url varchar(1024),
    public boolean,
    access_token varchar,
    db_datas bytea,
    store_fname varchar,
    file_size integer,
    checksum varchar(40),
    mimetype varchar,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp
);
CREATE INDEX ir_attachment_res_idx ON ir_attachment (res_model, res_id);
CREATE INDEX ir_attachment_store_fname_index ON ir_attachment (store_fname);
"""


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    iso_code: str
    url_code: str
    direction: str = "ltr"
    date_format: str = "%m/%d/%Y"
    time_format: str = "%H:%M:%S"
    decimal_point: str = "."
    thousands_sep: str = ","
    grouping: str = "[3,0]"


# Languages ``db.list_lang`` offers and ``create_database`` can install (a subset of Odoo's
# res.lang list; the emulator loads no translations).
LANGUAGES: tuple[Language, ...] = (
    Language("ar_001", "Arabic / الْعَرَبيّة", "ar", "ar", "rtl", "%d %b, %Y", "%I:%M:%S %p"),
    Language(
        "zh_CN", "Chinese (Simplified) / 简体中文", "zh_CN", "zh_CN", date_format="%Y年%m月%d日"
    ),
    Language(
        "nl_NL",
        "Dutch / Nederlands",
        "nl",
        "nl",
        date_format="%d-%m-%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
    Language("en_AU", "English (AU)", "en_AU", "en_AU", date_format="%d/%m/%Y"),
    Language("en_GB", "English (UK)", "en_GB", "en_GB", date_format="%d/%m/%Y"),
    Language("en_US", "English (US)", "en", "en"),
    Language(
        "fr_BE",
        "French (BE) / Français (BE)",
        "fr_BE",
        "fr_BE",
        date_format="%d/%m/%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
    Language(
        "fr_FR",
        "French / Français",
        "fr",
        "fr",
        date_format="%d/%m/%Y",
        decimal_point=",",
        thousands_sep="\u202f",
    ),
    Language(
        "de_DE",
        "German / Deutsch",
        "de",
        "de",
        date_format="%d.%m.%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
    Language(
        "it_IT",
        "Italian / Italiano",
        "it",
        "it",
        date_format="%d/%m/%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
    Language("ja_JP", "Japanese / 日本語", "ja", "ja", date_format="%Y年%m月%d日"),
    Language(
        "pl_PL",
        "Polish / Język polski",
        "pl",
        "pl",
        date_format="%d.%m.%Y",
        decimal_point=",",
        thousands_sep="\u00a0",
    ),
    Language(
        "pt_BR",
        "Portuguese (BR) / Português (BR)",
        "pt_BR",
        "pt_BR",
        date_format="%d/%m/%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
    Language(
        "pt_PT",
        "Portuguese / Português",
        "pt",
        "pt",
        date_format="%d-%m-%Y",
        decimal_point=",",
        thousands_sep="\u00a0",
    ),
    Language(
        "es_ES",
        "Spanish / Español",
        "es",
        "es",
        date_format="%d/%m/%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
    Language(
        "sv_SE",
        "Swedish / Svenska",
        "sv",
        "sv",
        date_format="%Y-%m-%d",
        decimal_point=",",
        thousands_sep="\u00a0",
    ),
    Language(
        "tr_TR",
        "Turkish / Türkçe",
        "tr",
        "tr",
        date_format="%d-%m-%Y",
        decimal_point=",",
        thousands_sep=".",
    ),
)
LANGUAGES_BY_CODE = {lang.code: lang for lang in LANGUAGES}

# ``db.list_countries`` (a subset of Odoo's res.country data).
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("ar", "Argentina"),
    ("au", "Australia"),
    ("at", "Austria"),
    ("be", "Belgium"),
    ("br", "Brazil"),
    ("ca", "Canada"),
    ("cn", "China"),
    ("dk", "Denmark"),
    ("fi", "Finland"),
    ("fr", "France"),
    ("de", "Germany"),
    ("in", "India"),
    ("ie", "Ireland"),
    ("it", "Italy"),
    ("jp", "Japan"),
    ("lu", "Luxembourg"),
    ("mx", "Mexico"),
    ("nl", "Netherlands"),
    ("no", "Norway"),
    ("pl", "Poland"),
    ("pt", "Portugal"),
    ("es", "Spain"),
    ("se", "Sweden"),
    ("ch", "Switzerland"),
    ("gb", "United Kingdom"),
    ("us", "United States"),
)

# res.groups of a bare database, with their ids, categories and members (observed on 17.0
# and 18.0): xml id -> (id, category, name).
GROUPS: tuple[tuple[str, int, str | None, str], ...] = (
    ("group_user", 1, "User types", "Internal User"),
    ("group_erp_manager", 2, "Administration", "Access Rights"),
    ("group_sanitize_override", 3, None, "Bypass HTML Field Sanitize"),
    ("group_system", 4, "Administration", "Settings"),
    ("group_multi_company", 5, "Extra Rights", "Multi Companies"),
    ("group_multi_currency", 6, "Extra Rights", "Multi Currencies"),
    ("group_no_one", 7, "Extra Rights", "Technical Features"),
    ("group_allow_export", 8, "Technical", "Access to export feature"),
    ("group_partner_manager", 9, "Extra Rights", "Contact Creation"),
    ("group_portal", 10, "User types", "Portal"),
    ("group_public", 11, "User types", "Public"),
)
GROUP_FULL_NAMES = {
    f"base.{xmlid}": f"{category} / {name}" if category else name
    for xmlid, _gid, category, name in GROUPS
}
ADMIN_GROUPS = (
    "group_user",
    "group_erp_manager",
    "group_sanitize_override",
    "group_system",
    "group_no_one",
    "group_allow_export",
    "group_partner_manager",
)
# The default user template's groups, which new users get too.
TEMPLATE_USER_GROUPS = ("group_user", "group_no_one", "group_allow_export", "group_partner_manager")

# A 1x1 transparent PNG: the company logo Odoo stores as an attachment at install, so that
# a new database has a filestore folder, as real ones do.
LOGO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def computed_signature(name: str) -> str:
    """res.users ``_compute_signature`` as stored after HTML sanitizing."""
    return f'<p data-o-mail-quote="1">--<br data-o-mail-quote="1">{html.escape(name)}</p>'


def default_parameters(http_port: int) -> dict[str, str]:
    """``ir.config_parameter`` ``_default_parameters`` with fresh values (section 5)."""
    return {
        "database.secret": str(uuid.uuid4()),
        "database.uuid": str(uuid.uuid1()),
        "database.create_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "web.base.url": f"http://localhost:{http_port}",
        "base.login_cooldown_after": "10",
        "base.login_cooldown_duration": "60",
    }


def module_version(version: OdooVersion, manifest_version: str) -> str:
    """``adapt_version``: the serie prefixed to the manifest's version."""
    return f"{version.serie}.{manifest_version}"


@dataclass(frozen=True)
class BaseDataSpec:
    version: OdooVersion
    login: str
    password_hash: str
    lang: str
    http_port: int
    filestore: Path
    phone: str | None = None
    email: str | None = None


async def _insert(conn: psycopg.AsyncConnection[Any], table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(f'"{c}"' for c in row)
    placeholders = ", ".join(["%s"] * len(row))
    await conn.execute(
        f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})',  # noqa: S608 - fixed names
        list(row.values()),
    )


async def _xmlid(
    conn: psycopg.AsyncConnection[Any], name: str, model: str, res_id: int, now: dt.datetime
) -> None:
    await _insert(
        conn,
        "ir_model_data",
        {
            "module": "base",
            "name": name,
            "model": model,
            "res_id": res_id,
            "noupdate": True,
            "create_date": now,
            "write_date": now,
        },
    )


async def initialize(conn: psycopg.AsyncConnection[Any], spec: BaseDataSpec) -> None:
    """Create the tables and the base records of a fresh database (in one transaction)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    stamps = {"create_uid": 1, "create_date": now, "write_uid": 1, "write_date": now}
    await conn.execute(DDL.replace("%%", "%"))

    currencies = (
        # id, code, name, symbol, position
        (1, "USD", "United States dollar", "$", "before"),
        (2, "EUR", "Euro", "€", "after"),
    )
    # Only the company's currency is active in a new database.
    for currency_id, code, full_name, symbol, position in currencies:
        await _insert(
            conn,
            "res_currency",
            {
                "id": currency_id,
                "name": code,
                "full_name": full_name,
                "symbol": symbol,
                "position": position,
                "rounding": 0.01,
                "decimal_places": 2,
                "active": currency_id == 1,
                **stamps,
            },
        )
        await _xmlid(conn, code, "res.currency", currency_id, now)

    langs = [LANGUAGES_BY_CODE["en_US"]]
    if spec.lang in LANGUAGES_BY_CODE and spec.lang != "en_US":
        langs.append(LANGUAGES_BY_CODE[spec.lang])
    for lang_id, lang in enumerate(langs, start=1):
        await _insert(
            conn,
            "res_lang",
            {
                "id": lang_id,
                "name": lang.name,
                "code": lang.code,
                "iso_code": lang.iso_code,
                "url_code": lang.url_code,
                "active": True,
                "direction": lang.direction,
                "date_format": lang.date_format,
                "time_format": lang.time_format,
                "week_start": "7",
                "grouping": lang.grouping,
                "decimal_point": lang.decimal_point,
                "thousands_sep": lang.thousands_sep,
                **stamps,
            },
        )
        await _xmlid(
            conn,
            f"lang_{lang.code.split('_')[0] if lang.code == 'en_US' else lang.code}",
            "res.lang",
            lang_id,
            now,
        )
    # An unknown language is not installed (Odoo only warns); the admin then speaks English.
    user_lang = spec.lang if spec.lang in LANGUAGES_BY_CODE else "en_US"

    partners: list[tuple[int, str | None, str, str | None, bool, bool, int | None]] = [
        # id, xml id, name, email, active, is_company, company
        (1, "main_partner", "My Company", spec.email, True, True, None),
        (2, "partner_root", spec.version.root_partner_name, "odoobot@example.com", False, False, 1),
        (3, "partner_admin", "Administrator", spec.email or "admin@example.com", True, False, 1),
        (4, "public_partner", "Public user", None, False, False, None),
        (5, None, "Default User Template", None, False, False, None),
        (6, None, "Portal User Template", None, False, False, None),
    ]
    for pid, partner_xmlid, name, email, active, is_company, _company in partners:
        await _insert(
            conn,
            "res_partner",
            {
                "id": pid,
                "name": name,
                "complete_name": name,
                "email": email,
                "active": active,
                "is_company": is_company,
                "type": "contact",
                "company_id": None,
                "commercial_partner_id": pid,
                "lang": user_lang,
                "partner_share": pid in (1, 4, 5, 6),
                # The company's address fields are empty strings, not NULL, in Odoo's data.
                "phone": (spec.phone or "") if pid == 1 else None,
                "street": "" if pid == 1 else None,
                "city": "" if pid == 1 else None,
                "zip": "" if pid == 1 else None,
                **stamps,
            },
        )
        if partner_xmlid:
            await _xmlid(conn, partner_xmlid, "res.partner", pid, now)
    await conn.execute(f"SELECT setval('res_partner_id_seq', {len(partners)})")

    await _insert(
        conn,
        "res_company",
        {
            "id": 1,
            "name": "My Company",
            "partner_id": 1,
            "currency_id": 1,
            # NULL, as base_data.sql leaves it: it reads as 0 and sorts after the others.
            "sequence": None,
            "active": True,
            "email": spec.email,
            "phone": spec.phone or "",
            **stamps,
        },
    )
    await _xmlid(conn, "main_company", "res.company", 1, now)
    await conn.execute("SELECT setval('res_company_id_seq', 1)")
    await conn.execute(
        "UPDATE res_partner SET company_id = 1 WHERE id = ANY(%s)",
        ([pid for pid, *_rest, company in partners if company],),
    )

    users = [
        # id, xml id, login, password, active, partner, share, groups
        (1, "user_root", "__system__", None, False, 2, False, ADMIN_GROUPS),
        (2, "user_admin", spec.login, spec.password_hash, True, 3, False, ADMIN_GROUPS),
        (3, "default_user", "default", None, False, 5, False, TEMPLATE_USER_GROUPS),
        (4, "public_user", "public", None, False, 4, True, ("group_public",)),
        (5, "template_portal_user_id", "portaltemplate", None, False, 6, True, ("group_portal",)),
    ]
    # Signatures as the data files write them (users 1, 2) or as computed from the name.
    signatures = {
        1: '<span data-o-mail-quote="1">-- <br data-o-mail-quote="1">\nSystem</span>',
        2: '<span data-o-mail-quote="1">-- <br data-o-mail-quote="1">\nAdministrator</span>',
        3: computed_signature("Default User Template"),
        4: computed_signature("Public user"),
        5: computed_signature("Portal User Template") if spec.version.major < 18 else "",
    }
    for uid, user_xmlid, login, password, active, partner, share, _groups in users:
        await _insert(
            conn,
            "res_users",
            {
                "id": uid,
                "login": login,
                "password": password,
                "active": active,
                "partner_id": partner,
                "company_id": 1,
                "share": share,
                "signature": signatures[uid],
                **stamps,
            },
        )
        await _xmlid(conn, user_xmlid, "res.users", uid, now)
        await conn.execute(
            "INSERT INTO res_company_users_rel (cid, user_id) VALUES (1, %s)", (uid,)
        )
    await conn.execute(f"SELECT setval('res_users_id_seq', {len(users)})")

    group_ids: dict[str, int] = {}
    for group_xmlid, gid, _category, group_name in GROUPS:
        await _insert(
            conn,
            "res_groups",
            {"id": gid, "name": Jsonb({"en_US": group_name}), "share": False, **stamps},
        )
        await _xmlid(conn, group_xmlid, "res.groups", gid, now)
        group_ids[group_xmlid] = gid
    await conn.execute(f"SELECT setval('res_groups_id_seq', {len(GROUPS)})")
    for uid, *_rest, groups in users:
        for group in groups:
            await conn.execute(
                "INSERT INTO res_groups_users_rel (gid, uid) VALUES (%s, %s)",
                (group_ids[group], uid),
            )

    parameters = {
        **default_parameters(spec.http_port),
        # Written by base, base_setup (and, from 18.0, more) at install.
        **spec.version.install_parameters,
    }
    for key, value in parameters.items():
        await _insert(conn, "ir_config_parameter", {"key": key, "value": value, **stamps})

    for sequence, (module, manifest_version) in enumerate(spec.version.installed_modules, 1):
        await _insert(
            conn,
            "ir_module_module",
            {
                "name": module,
                "shortdesc": Jsonb({"en_US": module.replace("_", " ").title()}),
                "author": "Odoo S.A.",
                "website": "https://www.odoo.com",
                "license": "LGPL-3",
                "state": "installed",
                "latest_version": module_version(spec.version, manifest_version),
                "application": False,
                "auto_install": module != "base",
                "sequence": sequence,
                **stamps,
            },
        )

    fname, checksum = filestore.write_file(spec.filestore, LOGO_PNG)
    await _insert(
        conn,
        "ir_attachment",
        {
            "name": "image_1920",
            "res_model": "res.partner",
            "res_field": "image_1920",
            "res_id": 1,
            "type": "binary",
            "public": False,
            "store_fname": fname,
            "file_size": len(LOGO_PNG),
            "checksum": checksum,
            "mimetype": "image/png",
            **stamps,
        },
    )


async def regenerate_parameters(conn: psycopg.AsyncConnection[Any], http_port: int) -> None:
    """``ir.config_parameter.init(force=True)``: fresh uuid, secret, create date, base URL and
    login cooldown values (duplicate, restore with copy=True; section 5)."""
    for key, value in default_parameters(http_port).items():
        await conn.execute(
            "INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid,"
            " write_date) VALUES (%s, %s, 1, now() at time zone 'UTC', 1,"
            " now() at time zone 'UTC')"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
            " write_date = EXCLUDED.write_date",
            (key, value),
        )


async def neutralize(conn: psycopg.AsyncConnection[Any]) -> None:
    """What base's ``neutralize.sql`` leaves visible here: the ``database.is_neutralized``
    flag (the emulator has no mail servers or crons to deactivate)."""
    await conn.execute(
        "INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid,"
        " write_date) VALUES ('database.is_neutralized', 'true', 1, now() at time zone 'UTC',"
        " 1, now() at time zone 'UTC') ON CONFLICT (key) DO UPDATE SET value = 'true'"
    )


async def hash_plaintext_passwords(conn: psycopg.AsyncConnection[Any]) -> list[tuple[int, str]]:
    """res.users ``init``: passwords not shaped ``$x$y$...`` (written by SQL) are hashed at
    registry load. Answers (id, plaintext) pairs for the caller to hash off the event loop."""
    cur = await conn.execute(
        r"SELECT id, password FROM res_users WHERE password IS NOT NULL"
        r" AND password !~ '^\$[^$]+\$[^$]+\$.'"
    )
    return [(int(uid), pw) for uid, pw in await cur.fetchall()]
