"""The repository as a newcomer meets it: `make run`, and a README and docs whose every
file reference can be followed in the checkout; tests that share helpers through
tests/fixtures/ only."""

from __future__ import annotations

import ast
import fnmatch
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXTENSION = re.compile(r"\.(md|py|lock|toml|txt|gz|ya?ml|json|cfg|ini|sh|zip|sql|html|js|css)$")
# Named in the docs on purpose, yet no file of this repository: each with the reason.
NOT_REPOSITORY_FILES = {
    "dump.sql": "a member of an Odoo backup archive",
    "manifest.json": "a member of an Odoo backup archive",
    "filestore/": "a member of an Odoo backup archive",
    "filestore": "a member of an Odoo backup archive",
    "django/contrib/users/common-passwords.txt.gz": "the file in Django's source it came from",
    "Stripe.js": "Stripe's browser library, not a file",
    "Vue.js": "the framework's name, not a file",
    "robots.txt": "a web site's file, which SEO audits read",
    "requirements.txt": "Odoo's own file, in its source tree (testing against a real Odoo)",
    "sdk/postman_collection.json": "written by `saas openapi --postman`, not kept in the tree",
}

# Reads the repository's files: the same on either backend.
pytestmark = [
    pytest.mark.once,
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _repository_paths() -> set[str]:
    """Every file git holds or would hold (untracked but not ignored), and their folders."""
    files = _git("ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    paths = set(files)
    for name in files:
        parts = name.split("/")
        paths.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return paths


def _ignored_on_purpose(path: str) -> bool:
    """Local files the repository ignores by design (.venv, .saas-data, .env)."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def _looks_like_path(token: str) -> bool:
    if not token or "://" in token or token.startswith(("/", "$", "-", "~")):
        return False  # URLs, API paths, variables, options
    return "/" in token or bool(EXTENSION.search(token))


def _names_a_file(token: str) -> bool:
    """Tell `docs/x.md`, `shared/seeds/`, `.saas-data/pg` from a format such as `N/period`."""
    first = token.removeprefix("./").split("/", 1)[0]
    return (
        bool(EXTENSION.search(token))
        or token.endswith("/")
        or first.startswith(".")
        or (ROOT / first).exists()
        or (ROOT / "src" / "saas_server" / first).is_dir()
    )


def _clean(token: str) -> str:
    # `filestore/<old>`, `docs/decisions/…`: the path is the part before the placeholder.
    token = re.split(r"[<{…\s]", token, maxsplit=1)[0]
    return token.strip("()'\"").rstrip(".,;:")


def _references(document: Path) -> list[tuple[int, str, str | None]]:
    """(line, reference, parent folder in a layout tree or None) for each path-like mention."""
    found: list[tuple[int, str, str | None]] = []
    tree: list[tuple[int, str]] = []  # (indent, folder) of the enclosing layout lines
    in_fence = False
    for number, line in enumerate(document.read_text().splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            tree = []
            continue
        if in_fence or line.startswith("    "):
            # A code block: a layout tree ("src/pkg/" then indented "core/ ...") or commands.
            stripped = line.strip()
            if not stripped:
                continue
            first = _clean(stripped.split()[0])
            indent = len(line) - len(line.lstrip())
            while tree and tree[-1][0] >= indent:
                tree.pop()
            if _looks_like_path(first):
                parent = tree[-1][1] if tree else None
                found.append((number, first, parent))
                if first.endswith("/"):
                    tree.append((indent, f"{parent.rstrip('/')}/{first}" if parent else first))
            continue
        tree = []
        for target in re.findall(r"\]\(([^)#\s]+)", line):
            if "://" not in target and not target.startswith("mailto:"):
                found.append((number, str((document.parent / target).relative_to(ROOT)), None))
        for span in re.findall(r"`([^`]+)`", line):
            token = _clean(span)
            if " " not in span.strip() and _looks_like_path(token) and _names_a_file(token):
                found.append((number, token, None))
        prose = re.sub(r"`[^`]*`|\]\([^)]*\)|https?://\S+", " ", line)
        for word in re.findall(r"(?<![\w/.-])[\w.][\w./*-]*[\w/*]", prose):
            token = _clean(word)
            first = token.split("/", 1)[0]
            top_level_folder = "/" in token and (ROOT / first).is_dir()
            if EXTENSION.search(token) or top_level_folder:
                found.append((number, token, None))
    return found


def _resolves(reference: str, parent: str | None, document: Path, paths: set[str]) -> bool:
    reference = reference.removeprefix("./").rstrip("/")
    if parent:
        bases = [parent.rstrip("/")]
    else:
        # Relative to the repository, to the document, or to the code (docs write
        # `hosts/standby.py` for src/saas_server/instances/hosts/standby.py).
        here = str(document.parent.relative_to(ROOT))
        bases = ["", here if here != "." else "", "src", "src/saas_server"]
    for base in bases:
        candidate = posixpath.normpath(f"{base}/{reference}" if base else reference)
        if any(ch in candidate for ch in "*?["):
            if fnmatch.filter(paths, candidate):
                return True
        elif candidate in paths or any(
            _ignored_on_purpose(c) for c in (candidate, candidate + "/")
        ):
            return True
    return False


def _names_a_test_module(name: str) -> bool:
    """`tests.core.test_errors`, `tests.conftest`: a test file or a conftest.py in tests/."""
    parts = name.split(".")
    return parts[0] == "tests" and any(
        part.startswith("test_") or part == "conftest" for part in parts[1:]
    )


def _test_modules_imported(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module) for each import, at any depth of ``source`` (the code of the dotted
    ``module``), from a test module (test_*.py) or a conftest.py, or of one."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _names_a_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # `from .test_x import y`, `from .. import test_x`
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            if _names_a_test_module(base):
                found.append((node.lineno, base))
            else:
                named = (f"{base}.{alias.name}" for alias in node.names)
                found += [(node.lineno, name) for name in named if _names_a_test_module(name)]
    return sorted(found)


def test_tests_share_helpers_through_fixtures_not_through_test_modules() -> None:
    """A helper two test files need lives in tests/fixtures/. Imported from a test file, it
    breaks tests elsewhere when that file is moved, split or renamed, and it takes the file's
    fixtures and marks along; conftest.py is pytest's to load, not a module to import."""
    offending = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for number, name in _test_modules_imported(path.read_text(), module):
            offending.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert not offending, (
        "move these helpers to tests/fixtures/ and import them from there:\n" + "\n".join(offending)
    )


def test_the_import_scan_catches_every_way_of_naming_a_test_module() -> None:
    source = """
from tests.instances.test_provisioning import add_host
from tests.core import test_errors
import tests.audit.test_chain
from tests.conftest import TEST_SECRET_KEY
from .test_standby import fill
from .. import test_serve
from tests.fixtures.errors import assert_envelope
from tests.audit.support import entries
import tests.fixtures.provisioning


def later() -> None:
    from tests.e2e.test_serve import ServeProcess
"""
    found = _test_modules_imported(source, "tests.instances.hosts.test_standby_crash")
    assert found == [
        (2, "tests.instances.test_provisioning"),
        (3, "tests.core.test_errors"),
        (4, "tests.audit.test_chain"),
        (5, "tests.conftest"),
        (6, "tests.instances.hosts.test_standby"),
        (7, "tests.instances.test_serve"),
        (14, "tests.e2e.test_serve"),
    ], found


def test_readme_and_docs_refer_only_to_files_in_the_repository() -> None:
    paths = _repository_paths()
    missing = []
    checked = 0
    for document in DOCUMENTS:
        for number, reference, parent in _references(document):
            if reference in NOT_REPOSITORY_FILES or reference.rstrip("/") in NOT_REPOSITORY_FILES:
                continue
            checked += 1
            if not _resolves(reference, parent, document, paths):
                missing.append(f"{document.relative_to(ROOT)}:{number}: {reference}")
    assert checked > 30, "the scan finds the references (README's layout, docs' links)"
    assert not missing, "references to files that are not in the repository:\n" + "\n".join(missing)


def test_the_reference_scan_catches_a_missing_file(tmp_path: Path) -> None:
    paths = _repository_paths()
    document = ROOT / "docs" / "user-guide.md"
    for reference in ("docs/no-such-guide.md", "src/saas_server/nothing.py", "NOWHERE.md"):
        assert not _resolves(reference, None, document, paths), reference
    for reference in (
        "docs/user-guide.md",
        "instances/hosts/standby.py",
        "api-map.md",
        ".venv/bin/saas",
    ):
        assert _resolves(reference, None, document, paths), reference


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_takes_port_and_host_and_shows_install_progress() -> None:
    def dry_run(*args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(
            ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True, env=env
        ).stdout

    serve = dry_run("run", "PORT=9123", "HOST=0.0.0.0").splitlines()
    assert any(line.endswith("saas serve --host 0.0.0.0 --port 9123") for line in serve), serve
    default = dry_run("run").splitlines()
    assert any(line.endswith("saas serve --host 127.0.0.1 --port 8000") for line in default)

    # -B: every recipe, as on a fresh clone. The long installs show pip's progress.
    recipes = dry_run("-B", "install").splitlines() + dry_run("-B", "install-dev").splitlines()
    installs = [line for line in recipes if "pip install" in line and "-r requirements" in line]
    assert len(installs) == 2, installs
    for line in installs:
        assert "--quiet" not in line and " -q" not in line, line
