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
