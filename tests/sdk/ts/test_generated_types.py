"""The TypeScript SDK's types (sdk/typescript/src/schema.ts) are generated from the committed
OpenAPI document (sdk/openapi.json) by `npm run generate`: a stale copy fails here, and the
SDK compiles against the types it has."""

from __future__ import annotations

import subprocess

import pytest

from tests.sdk.ts.node import SDK_DIR, ensure_node_modules

pytestmark = pytest.mark.once


def test_schema_ts_is_generated_from_the_committed_document() -> None:
    ensure_node_modules()
    generated = subprocess.run(
        ["npx", "openapi-typescript", "../openapi.json", "--default-non-nullable", "false"],
        cwd=SDK_DIR,
        capture_output=True,
        timeout=300,
        check=True,
    ).stdout.decode()
    committed = (SDK_DIR / "src" / "schema.ts").read_text()
    assert generated == committed, (
        "sdk/typescript/src/schema.ts is stale: run `npm run generate` in sdk/typescript "
        "(after `saas openapi`) and commit it"
    )


def test_the_sdk_and_its_tests_type_check() -> None:
    ensure_node_modules()
    checked = subprocess.run(
        ["npx", "tsc", "-p", "tsconfig.json", "--noEmit"],
        cwd=SDK_DIR,
        capture_output=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_the_package_builds_and_its_entry_points_import_in_node() -> None:
    ensure_node_modules()
    built = subprocess.run(["npm", "run", "build"], cwd=SDK_DIR, capture_output=True, timeout=300)
    assert built.returncode == 0, built.stdout.decode() + built.stderr.decode()
    # Through the package's own name and exports map, as an application imports it.
    script = (
        "const sdk = await import('@saas-platform/sdk');"
        "const react = await import('@saas-platform/sdk/react');"
        "const vue = await import('@saas-platform/sdk/vue');"
        "console.log(JSON.stringify([typeof sdk.Client, typeof sdk.TenantNotFoundError,"
        " typeof react.useTenant, typeof react.useTenants, typeof vue.useTenant,"
        " typeof vue.useTenants]));"
    )
    imported = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=SDK_DIR,
        capture_output=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr.decode()
    assert imported.stdout.decode().strip() == '["function","function"' + ',"function"' * 4 + "]"
