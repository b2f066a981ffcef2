"""The Odoo versions the emulator can play, and what differs between them.

Each difference cites the odoo-protocol.md section that records it; section 11 (observed on
real 17.0 and 18.0 servers) wins over the source reading of the earlier sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)
class OdooVersion:
    serie: str  # "17.0"
    version_info: tuple[Any, ...]
    # Packaged builds append their date to ``server_version`` ("17.0-20240709"), so clients
    # must compare ``server_serie``/``server_version_info`` (sections 2, 11.1); the emulator
    # does the same to keep them honest.
    build: str
    # Modules a bare ``create_database`` leaves installed, with their manifest versions
    # (section 11.2: 11 on 17.0, 29 on 18.0); they fill ``ir_module_module`` and the dump
    # manifest's ``modules`` (``latest_version`` is "<serie>.<manifest version>").
    installed_modules: tuple[tuple[str, str], ...]
    # 17.0 refuses ``_x``/``init`` by name before looking the model up; 18.0 looks the method
    # up first (section 11.1).
    private_check_by_name_only: bool
    # JSON-RPC ``error.code`` for ordinary errors: 200, 0 on 19.0 (section 10.4).
    jsonrpc_error_code: int
    # Wrong Content-Type on a JSON route: 400 up to 18.0, 415 on 19.0 (section 10.4).
    wrong_content_type_status: int
    # ``/web/health?db_server_status=1`` (section 7: 18.0, a later 17.x).
    health_db_server_status: bool
    # ``GET /web/version`` exists from 19.0 (sections 10.2, 11.2).
    web_version_route: bool
    # Where a successful web login lands: /web on 17.0, /odoo from 18.0.
    web_client_path: str
    # 18.0 web backup refuses names outside the listed databases (sections 1.3, 11.1).
    web_backup_checks_name: bool
    # ``name_search`` calls its domain ``args`` up to 18.0 (observed) and ``domain`` in 19.0.
    name_search_domain_kw: str
    # The partner behind user 1: "System", renamed OdooBot when ``mail`` is installed.
    root_partner_name: str
    # ir.config_parameter entries the installed modules add besides the six defaults.
    install_parameters: dict[str, str]

    @property
    def server_version(self) -> str:
        return f"{self.serie}-{self.build}"

    @property
    def major(self) -> int:
        return int(self.version_info[0])

    # Differences observed by sending the same calls to 17.0-20240709 and 18.0-20250520:

    @property
    def empty_password_login_fails_in_apikeys(self) -> bool:
        """18.0 checks an empty password against API keys, whose assertion fails:
        ``common.login`` answers ``builtins.AssertionError: scope and key required``
        (17.0 answers False)."""
        return self.major >= 18

    @property
    def copy_returns_ids(self) -> bool:
        """``copy`` answers an id on 17.0, a list of ids from 18.0."""
        return self.major >= 18

    @property
    def has_name_get(self) -> bool:
        """``name_get`` still exists (deprecated) on 17.0, not on 18.0."""
        return self.major < 18

    @property
    def has_check_access(self) -> bool:
        """18.0 adds ``check_access``/``has_access``, and its ``check_access_rights`` answers
        None (not True) when it does not raise."""
        return self.major >= 18

    @property
    def has_group_on_records(self) -> bool:
        """``res.users.has_group`` takes the group only on 17.0; records first from 18.0."""
        return self.major >= 18

    @property
    def validates_lang(self) -> bool:
        """17.0 refuses a ``lang`` outside the installed languages (``Wrong value for
        res.partner.lang``); 18.0 stores any value. Other selections are checked on both."""
        return self.major < 18

    @property
    def cooldown_refusal_is_value_error(self) -> bool:
        """18.0 fails to translate its "Too many login failures" message during a web login
        cooldown and answers ``ValueError: invalid literal for int() with base 10: '<login>'``
        instead (17.0 answers the AccessDenied)."""
        return self.major == 18

    def common_version(self) -> dict[str, Any]:
        """``common.version`` (section 2)."""
        return {
            "server_version": self.server_version,
            "server_version_info": list(self.version_info),
            "server_serie": self.serie,
            "protocol_version": 1,
        }


# A bare 17.0 database: base plus the auto-installed modules (checked against 17.0-20240709).
_BASE_17 = (
    ("auth_totp", "1.0"),
    ("base", "1.3"),
    ("base_import", "2.0"),
    ("base_import_module", "1.0"),
    ("base_setup", "1.0"),
    ("bus", "1.0"),
    ("iap", "1.1"),
    ("web", "1.0"),
    ("web_editor", "1.0"),
    ("web_tour", "0.1"),
    ("web_unsplash", "1.1"),
)
# A bare 18.0 community database (checked against 18.0-20250520; section 11.2 counted 29
# modules on another 18.0 setup, this one installs 12 and no ``mail``).
_BASE_18 = (
    ("auth_totp", "1.0"),
    ("base", "1.3"),
    ("base_import", "2.0"),
    ("base_import_module", "1.0"),
    ("base_setup", "1.0"),
    ("bus", "1.0"),
    ("html_editor", "1.0"),
    ("iap", "1.1"),
    ("web", "1.0"),
    ("web_editor", "1.0"),
    ("web_tour", "1.0"),
    ("web_unsplash", "1.1"),
)
_PARAMETERS_17 = {"base.template_portal_user_id": "5", "base_setup.show_effect": "True"}
_PARAMETERS_18 = {
    "base.template_portal_user_id": "5",
    "base.default_max_email_size": "10",
    "base_setup.show_effect": "True",
    "base_setup.default_user_rights": "True",
}

VERSIONS: dict[str, OdooVersion] = {
    "17.0": OdooVersion(
        serie="17.0",
        version_info=(17, 0, 0, "final", 0, ""),
        build="20240709",
        installed_modules=_BASE_17,
        private_check_by_name_only=True,
        jsonrpc_error_code=200,
        wrong_content_type_status=400,
        health_db_server_status=False,
        web_version_route=False,
        web_client_path="/web",
        web_backup_checks_name=False,
        name_search_domain_kw="args",
        root_partner_name="System",
        install_parameters=_PARAMETERS_17,
    ),
    "18.0": OdooVersion(
        serie="18.0",
        version_info=(18, 0, 0, "final", 0, ""),
        build="20250520",
        installed_modules=_BASE_18,
        private_check_by_name_only=False,
        jsonrpc_error_code=200,
        wrong_content_type_status=400,
        health_db_server_status=True,
        web_version_route=False,
        web_client_path="/odoo",
        web_backup_checks_name=True,
        name_search_domain_kw="args",
        root_partner_name="System",
        install_parameters=_PARAMETERS_18,
    ),
    "19.0": OdooVersion(
        serie="19.0",
        version_info=(19, 0, 0, "final", 0, ""),
        build="20251002",
        installed_modules=(*_BASE_18, ("rpc", "1.0")),
        private_check_by_name_only=False,
        jsonrpc_error_code=0,
        wrong_content_type_status=415,
        health_db_server_status=True,
        web_version_route=True,
        web_client_path="/odoo",
        web_backup_checks_name=True,
        name_search_domain_kw="domain",
        root_partner_name="System",
        install_parameters=_PARAMETERS_18,
    ),
}


def get_version(serie: str) -> OdooVersion:
    try:
        return VERSIONS[serie]
    except KeyError:
        known = ", ".join(VERSIONS)
        raise ValueError(f"Unknown Odoo version {serie!r}; the emulator plays {known}.") from None
