"""Architecture guard (DESIGN.md §3, STYLE.md 14).

A package may import only itself and the packages below it in
``supervision → bidding → auction → appraisal → cases → accounts → core``; a ``rules.py``
(pure domain decisions) may not import Flask, Werkzeug or SQLAlchemy, nor read the clock.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["core", "accounts", "cases", "appraisal", "auction", "bidding", "supervision"]
RANK = {name: i for i, name in enumerate(ORDER)}
FRAMEWORKS = ("flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug", "sqlalchemy", "wtforms")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every absolute module imported by ``source`` (``import a.b`` and ``from a.b import c``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(root: Path) -> list[str]:
    """Upward imports and impure ``rules.py`` modules under ``root``."""
    problems = []
    for package in ORDER:
        pkg_dir = root / package
        if not pkg_dir.is_dir():
            continue
        for path in sorted(pkg_dir.rglob("*.py")):
            rel = path.relative_to(root)
            source = path.read_text(encoding="utf-8")
            for line, module in imported_modules(source):
                top = module.split(".")[0]
                if top in RANK and RANK[top] > RANK[package]:
                    problems.append(f"{rel}:{line}: {package} imports {module} (a higher layer)")
                if path.name == "rules.py" and top in FRAMEWORKS:
                    problems.append(f"{rel}:{line}: rules.py imports {module} (rules must be pure)")
            if path.name == "rules.py" and ("datetime.now(" in source or "utc_now(" in source):
                problems.append(f"{rel}: rules.py reads the clock; take `now` as an argument")
    return problems


def test_no_package_imports_a_higher_layer_and_rules_are_pure():
    assert violations(ROOT) == []


def test_the_guard_catches_an_upward_import_and_an_impure_rules_module(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "x.py").write_text("from bidding.models import Bid\n")
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "rules.py").write_text(
        "import sqlalchemy\nfrom datetime import datetime\nt = datetime.now()\n"
    )
    (tmp_path / "accounts" / "ok.py").write_text("from core.db import Base\nimport accounts.rules\n")
    found = violations(tmp_path)
    assert any("core/x.py:1: core imports bidding.models" in p for p in found)
    assert any("accounts/rules.py:1: rules.py imports sqlalchemy" in p for p in found)
    assert any("reads the clock" in p for p in found)
    assert not any("ok.py" in p for p in found)
