"""``object.execute_kw``/``execute`` with the ORM methods common clients call
(odoo-protocol.md sections 2, 3, 11.1 and 11.3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.odoo_emulator.rpc import ADMIN_PASSWORD, OdooServer, RpcError, unique_db_name


@pytest.fixture(scope="module")
def call(odoo: OdooServer, database: str) -> Any:
    def call_as_admin(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return odoo.execute_kw(database, 2, ADMIN_PASSWORD, model, method, list(args), kwargs)

    return call_as_admin


@pytest.fixture(scope="module")
def company_with_contacts(call: Any) -> dict[str, int]:
    suffix = unique_db_name()[-6:]
    company = call("res.partner", "create", {"name": f"Acme {suffix}", "is_company": True})
    alice = call(
        "res.partner",
        "create",
        {"name": f"Alice {suffix}", "parent_id": company, "email": f"alice-{suffix}@example.com"},
    )
    bob = call("res.partner", "create", {"name": f"Bob {suffix}", "parent_id": company})
    archived = call("res.partner", "create", {"name": f"Zed {suffix}", "active": False})
    return {"company": company, "alice": alice, "bob": bob, "archived": archived, "suffix": suffix}  # type: ignore[dict-item]


def test_search_then_read_with_a_field_list(
    call: Any, company_with_contacts: dict[str, Any]
) -> None:
    suffix = company_with_contacts["suffix"]
    ids = call("res.partner", "search", [("name", "ilike", suffix)], order="name asc")
    assert ids == [
        company_with_contacts["company"],
        company_with_contacts["alice"],
        company_with_contacts["bob"],
    ]
    records = call("res.partner", "read", ids, ["name", "parent_id", "is_company"])
    assert [set(r) for r in records] == [{"id", "name", "parent_id", "is_company"}] * 3
    company = records[0]
    assert company["parent_id"] is False and company["is_company"] is True
    alice = records[1]
    assert alice["parent_id"] == [company_with_contacts["company"], f"Acme {suffix}"]


def test_read_skips_ids_that_do_not_exist(call: Any, company_with_contacts: dict[str, Any]) -> None:
    assert call("res.partner", "read", [999_999_999], ["name"]) == []
    records = call("res.partner", "read", [company_with_contacts["bob"], 999_999_999], ["name"])
    assert [r["id"] for r in records] == [company_with_contacts["bob"]]


def test_read_of_an_unknown_field_is_a_value_error(
    call: Any, company_with_contacts: dict[str, Any]
) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.partner", "read", [company_with_contacts["bob"]], ["no_such_field"])
    assert caught.value.name == "builtins.ValueError"
    assert "no_such_field" in caught.value.message


def test_contact_display_name_includes_its_company(
    call: Any, company_with_contacts: dict[str, Any]
) -> None:
    suffix = company_with_contacts["suffix"]
    [alice] = call("res.partner", "read", [company_with_contacts["alice"]], ["display_name"])
    assert alice["display_name"] == f"Acme {suffix}, Alice {suffix}"


def test_search_read_with_domain_operators(
    call: Any, company_with_contacts: dict[str, Any]
) -> None:
    suffix = company_with_contacts["suffix"]
    company = company_with_contacts["company"]

    def names(domain: list[Any], **kwargs: Any) -> list[str]:
        rows = call("res.partner", "search_read", domain, ["name"], order="name", **kwargs)
        return [row["name"] for row in rows]

    assert names([("name", "ilike", suffix), ("parent_id", "=", company)]) == [
        f"Alice {suffix}",
        f"Bob {suffix}",
    ]
    assert names(["|", ("name", "=", f"Bob {suffix}"), ("name", "=", f"Acme {suffix}")]) == [
        f"Acme {suffix}",
        f"Bob {suffix}",
    ]
    assert names([("name", "ilike", suffix), "!", ("parent_id", "=", False)]) == [
        f"Alice {suffix}",
        f"Bob {suffix}",
    ]
    assert names([("name", "=like", f"B%{suffix}")]) == [f"Bob {suffix}"]
    assert names([("name", "=ilike", f"b%{suffix}")]) == [f"Bob {suffix}"]
    assert names([("name", "ilike", suffix), ("email", "!=", False)]) == [f"Alice {suffix}"]
    assert names(
        [("id", "in", [company_with_contacts["alice"], company_with_contacts["bob"]])]
    ) == [f"Alice {suffix}", f"Bob {suffix}"]
    assert names([("name", "ilike", suffix), ("id", "not in", [company])]) == [
        f"Alice {suffix}",
        f"Bob {suffix}",
    ]
    assert names([("parent_id.name", "=", f"Acme {suffix}")]) == [
        f"Alice {suffix}",
        f"Bob {suffix}",
    ]
    assert names([("name", "ilike", suffix)], limit=1, offset=1) == [f"Alice {suffix}"]


def test_archived_records_are_hidden_unless_asked_for(
    call: Any, company_with_contacts: dict[str, Any]
) -> None:
    suffix = company_with_contacts["suffix"]
    archived = company_with_contacts["archived"]
    assert archived not in call("res.partner", "search", [("name", "ilike", suffix)])
    assert archived in call(
        "res.partner", "search", [("name", "ilike", suffix)], context={"active_test": False}
    )
    assert call("res.partner", "search", [("name", "ilike", suffix), ("active", "=", False)]) == [
        archived
    ]


def test_search_count(call: Any, company_with_contacts: dict[str, Any]) -> None:
    suffix = company_with_contacts["suffix"]
    assert call("res.partner", "search_count", [("name", "ilike", suffix)]) == 3
    assert call("res.partner", "search_count", [("name", "ilike", f"Bob {suffix}")]) == 1


def test_search_with_an_unknown_order_field_is_a_value_error(call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.partner", "search", [], order="no_such_field desc")
    assert caught.value.name == "builtins.ValueError"


def test_name_search_answers_id_and_display_name(
    odoo: OdooServer, call: Any, company_with_contacts: dict[str, Any]
) -> None:
    suffix = company_with_contacts["suffix"]
    result = call("res.partner", "name_search", f"Bob {suffix}")
    assert result == [[company_with_contacts["bob"], f"Acme {suffix}, Bob {suffix}"]]
    assert call("res.partner", "name_search", suffix, limit=1) == [
        [company_with_contacts["company"], f"Acme {suffix}"]
    ]
    # The domain argument is ``args`` up to 18.0 and ``domain`` from 19.0.
    keyword = "args" if odoo.major < 19 else "domain"
    narrowed = call("res.partner", "name_search", suffix, **{keyword: [("is_company", "=", True)]})
    assert [row[0] for row in narrowed] == [company_with_contacts["company"]]


def test_create_write_unlink(call: Any) -> None:
    single = call("res.partner", "create", {"name": "Created once"})
    assert isinstance(single, int)
    several = call("res.partner", "create", [{"name": "First of two"}, {"name": "Second of two"}])
    assert isinstance(several, list) and len(several) == 2
    assert call("res.partner", "write", [single, *several], {"city": "Namur"}) is True
    cities = call("res.partner", "read", [single, *several], ["city"])
    assert {row["city"] for row in cities} == {"Namur"}
    assert call("res.partner", "unlink", [single, *several]) is True
    assert call("res.partner", "search", [("id", "in", [single, *several])]) == []


def test_write_on_a_missing_record_is_a_missing_error(call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.partner", "write", [999_999_999], {"city": "Nowhere"})
    assert caught.value.name == "odoo.exceptions.MissingError"


def test_create_without_a_required_value_is_a_validation_error(call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.users", "create", {"name": "No login"})
    assert caught.value.name == "odoo.exceptions.ValidationError"


def test_execute_takes_positional_arguments(
    odoo: OdooServer, database: str, company_with_contacts: dict[str, Any]
) -> None:
    ids = odoo.jsonrpc(
        "object",
        "execute",
        database,
        2,
        ADMIN_PASSWORD,
        "res.partner",
        "search",
        [("id", "=", company_with_contacts["bob"])],
    )
    assert ids == [company_with_contacts["bob"]]
    records = odoo.jsonrpc(
        "object", "execute", database, 2, ADMIN_PASSWORD, "res.partner", "read", ids, ["name"]
    )
    assert records[0]["id"] == company_with_contacts["bob"]


def test_fields_get_describes_types_and_relations(call: Any) -> None:
    fields = call(
        "res.partner", "fields_get", attributes=["type", "string", "relation", "required"]
    )
    assert fields["name"]["type"] == "char"
    assert fields["parent_id"] == {
        "type": "many2one",
        "string": fields["parent_id"]["string"],
        "relation": "res.partner",
        "required": False,
    }
    assert fields["child_ids"]["type"] == "one2many"
    assert set(fields["name"]) <= {"type", "string", "relation", "required"}
    users = call("res.users", "fields_get", ["login", "partner_id"])
    assert set(users) == {"login", "partner_id"}
    assert users["login"]["required"] is True
    assert users["partner_id"]["relation"] == "res.partner"


def test_res_users_context_get(call: Any) -> None:
    context = call("res.users", "context_get")
    assert context["uid"] == 2
    assert context["lang"] == "en_US"
    assert "tz" in context


def test_admin_and_company_base_records(call: Any) -> None:
    [admin] = call("res.users", "read", [2], ["login", "partner_id", "company_id", "active"])
    assert admin["login"] == "admin"
    assert admin["active"] is True
    assert admin["company_id"][0] == 1
    [company] = call("res.company", "read", [1], ["name", "partner_id", "currency_id"])
    assert company["name"] == "My Company"
    assert company["partner_id"][0] == 1
    assert company["currency_id"][1]
    assert call("res.users", "search", [("login", "=", "__system__")]) == []
    assert call("res.users", "search", [("id", "=", 1)], context={"active_test": False}) == [1]


def test_config_parameters_get_set_and_delete(odoo: OdooServer, call: Any) -> None:
    key = f"emulator.test.{unique_db_name()}"
    assert call("ir.config_parameter", "get_param", key) is False
    assert call("ir.config_parameter", "get_param", key, "fallback") == "fallback"
    assert call("ir.config_parameter", "set_param", key, "one") is False
    assert call("ir.config_parameter", "set_param", key, "two") == "one"
    assert call("ir.config_parameter", "get_param", key) == "two"
    assert call("ir.config_parameter", "set_param", key, False) == "two"
    assert call("ir.config_parameter", "get_param", key) is False
    assert call("ir.config_parameter", "get_param", "web.base.url").startswith("http")


@pytest.mark.parametrize(
    "key",
    [
        "database.secret",
        "database.uuid",
        "database.create_date",
        "web.base.url",
        "base.login_cooldown_after",
        "base.login_cooldown_duration",
    ],
)
def test_default_parameters_cannot_be_deleted(call: Any, key: str) -> None:
    current = call("ir.config_parameter", "get_param", key)
    with pytest.raises(RpcError) as caught:
        call("ir.config_parameter", "set_param", key, False)
    assert caught.value.name == "odoo.exceptions.ValidationError"
    assert caught.value.message == f"You cannot delete the {key} record."
    assert call("ir.config_parameter", "get_param", key) == current


def test_unknown_model_is_a_user_error(call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("no.such.model", "search", [])
    assert caught.value.name == "odoo.exceptions.UserError"
    assert caught.value.message == "Object no.such.model doesn't exist"


def test_unknown_method_is_an_attribute_error(odoo: OdooServer, call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.partner", "no_such_method")
    assert caught.value.name == "builtins.AttributeError"
    if odoo.major >= 18:
        assert caught.value.message == "The method 'res.partner.no_such_method' does not exist"
    else:
        assert caught.value.message == (
            "The method 'no_such_method' does not exist on the model 'res.partner'"
        )


def test_private_methods_cannot_be_called(odoo: OdooServer, call: Any) -> None:
    with pytest.raises(RpcError) as existing:
        call("res.partner", "_search", [])
    assert existing.value.name == "odoo.exceptions.AccessError"
    with pytest.raises(RpcError) as missing:
        call("res.partner", "_no_such_private")
    if odoo.major >= 18:
        # 18.0 looks the method up first.
        assert existing.value.message == (
            "Private methods (such as 'res.partner._search') cannot be called remotely."
        )
        assert missing.value.name == "builtins.AttributeError"
        assert missing.value.message == "The method 'res.partner._no_such_private' does not exist"
    else:
        assert (
            existing.value.message == "Private methods (such as _search) cannot be called remotely."
        )
        assert missing.value.name == "odoo.exceptions.AccessError"
        assert missing.value.message == (
            "Private methods (such as _no_such_private) cannot be called remotely."
        )


def test_bad_credentials_on_object_are_access_denied(odoo: OdooServer, database: str) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.execute_kw(database, 2, "not-the-password", "res.partner", "search", [[]])
    assert caught.value.name == "odoo.exceptions.AccessDenied"


def test_users_are_created_with_a_partner_and_can_log_in(
    odoo: OdooServer, database: str, call: Any
) -> None:
    login = f"user-{unique_db_name()[-8:]}"
    uid = call(
        "res.users", "create", {"name": "Regular User", "login": login, "password": "pw-123456"}
    )
    [user] = call("res.users", "read", [uid], ["name", "login", "partner_id", "share"])
    assert user["name"] == "Regular User"
    assert user["partner_id"][1] == "Regular User"
    assert user["share"] is False
    assert odoo.common("authenticate", database, login, "pw-123456", {}) == uid
    with pytest.raises(RpcError) as duplicate:
        call("res.users", "create", {"name": "Same login", "login": login})
    assert duplicate.value.name == "odoo.exceptions.ValidationError"
    # An internal user may read contacts but not the system parameters.
    partners = odoo.execute_kw(database, uid, "pw-123456", "res.partner", "search", [[]])
    assert isinstance(partners, list)
    with pytest.raises(RpcError) as denied:
        odoo.execute_kw(
            database, uid, "pw-123456", "ir.config_parameter", "get_param", ["database.uuid"]
        )
    assert denied.value.name == "odoo.exceptions.AccessError"


def test_copy_answers_an_id_then_a_list_of_ids(
    odoo: OdooServer, call: Any, company_with_contacts: dict[str, Any]
) -> None:
    suffix = company_with_contacts["suffix"]
    copied = call("res.partner", "copy", [company_with_contacts["bob"]])
    copy_id = copied[0] if odoo.major >= 18 else copied
    if odoo.major >= 18:
        assert isinstance(copied, list) and len(copied) == 1
    else:
        assert isinstance(copied, int)
    [record] = call("res.partner", "read", [copy_id], ["name", "parent_id"])
    assert record["name"] == f"Bob {suffix} (copy)"
    assert record["parent_id"][0] == company_with_contacts["company"]
    call("res.partner", "unlink", [copy_id])


def test_archive_and_unarchive_answer_no_result(odoo: OdooServer, database: str, call: Any) -> None:
    partner = call("res.partner", "create", {"name": "To archive"})
    for method, active in (("action_archive", False), ("action_unarchive", True)):
        response = odoo.post_json(
            "/jsonrpc",
            {
                "service": "object",
                "method": "execute_kw",
                "args": [database, 2, ADMIN_PASSWORD, "res.partner", method, [[partner]], {}],
            },
        )
        body = response.json()
        assert "error" not in body and "result" not in body
        [record] = call("res.partner", "read", [partner], ["active"])
        assert record["active"] is active


def test_deleting_the_contact_of_an_active_user_is_a_redirect_warning(call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.partner", "unlink", [3])
    assert caught.value.name == "odoo.exceptions.RedirectWarning"
    message, action, button, _context = caught.value.error["data"]["arguments"]
    assert message.startswith("You cannot delete contacts linked to an active user.")
    assert message.endswith("Linked active users : Administrator")
    assert action["res_model"] == "res.users" and action["res_id"] == 2
    assert button == "Go to users"


def test_object_call_with_an_unknown_uid_is_a_missing_error(
    odoo: OdooServer, database: str
) -> None:
    with pytest.raises(RpcError) as caught:
        odoo.execute_kw(database, 999_999, ADMIN_PASSWORD, "res.partner", "search", [[]])
    assert caught.value.name == "odoo.exceptions.MissingError"
    assert caught.value.message == (
        "Record does not exist or has been deleted.\n(Record: res.users(999999,), User: 999999)"
    )


def test_searching_a_field_that_cannot_be_searched_ignores_the_condition(call: Any) -> None:
    # res.users' password is not stored: Odoo warns and drops the condition.
    assert call("res.users", "search", [("password", "=", "anything")]) == call(
        "res.users", "search", []
    )


def test_selection_values_are_checked(odoo: OdooServer, call: Any) -> None:
    with pytest.raises(RpcError) as caught:
        call("res.partner", "create", {"name": "Bad type", "type": "weird"})
    assert caught.value.name == "builtins.ValueError"
    assert caught.value.message == "Wrong value for res.partner.type: 'weird'"
    if odoo.major < 18:
        with pytest.raises(RpcError) as lang:
            call("res.partner", "create", {"name": "Bad lang", "lang": "xx_XX"})
        assert lang.value.message == "Wrong value for res.partner.lang: 'xx_XX'"
    else:
        # 18.0 stores any language code.
        assert isinstance(call("res.partner", "create", {"name": "Odd lang", "lang": "xx_XX"}), int)


def test_access_rights_and_group_checks(odoo: OdooServer, call: Any) -> None:
    expected = None if odoo.major >= 18 else True
    assert call("res.partner", "check_access_rights", "read") is expected
    assert call("res.partner", "check_access_rights", "read", False) is True
    if odoo.major >= 18:
        assert call("res.users", "has_group", [2], "base.group_system") is True
    else:
        assert call("res.users", "has_group", "base.group_system") is True
        assert call("res.partner", "name_get", [1]) == [[1, "My Company"]]


def test_default_get_answers_the_defaults_asked_for(call: Any) -> None:
    fields = ["active", "company_id", "company_ids", "lang", "tz"]
    assert call("res.users", "default_get", fields) == {
        "active": True,
        "company_id": 1,
        "company_ids": [[6, 0, [1]]],
        "lang": "en_US",
        "tz": False,
    }
    assert call("res.partner", "default_get", ["lang", "active", "type", "is_company"]) == {
        "lang": "en_US",
        "active": True,
        "type": "contact",
        "is_company": False,
    }


def test_user_groups_field_name(odoo: OdooServer, call: Any) -> None:
    # 19.0 renamed res.users.groups_id to group_ids.
    name = "group_ids" if odoo.major >= 19 else "groups_id"
    fields = call("res.users", "fields_get", [name], attributes=["type", "relation"])
    assert fields == {name: {"type": "many2many", "relation": "res.groups"}}
    [admin] = call("res.users", "read", [2], [name])
    system = call("res.groups", "search", [("id", "in", admin[name]), ("name", "=", "Settings")])
    assert len(system) == 1
