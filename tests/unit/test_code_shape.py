"""Mistakes a module split makes silently: a dataclass that lost ``@dataclass``, a decorator applied twice.

``RateLimitStatus`` lost its decorator when the hook module was split (``updated_at`` became a bare
``dataclasses.Field``, shared by every hook) and ``Outcome`` got two; nothing failed. These checks walk
every module of the package.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import airflow_provider_canvas
from airflow_provider_canvas.hooks._requests import Outcome
from airflow_provider_canvas.hooks.canvas import RateLimitStatus

PACKAGE = Path(airflow_provider_canvas.__file__).parent
MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages([str(PACKAGE)], prefix="airflow_provider_canvas.")
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_definition_is_decorated_twice_with_the_same_decorator(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names = [ast.unparse(decorator) for decorator in node.decorator_list]
            assert len(names) == len(set(names)), f"{path.name}:{node.lineno} {node.name}: {names}"


@pytest.mark.parametrize("module", MODULES)
def test_no_class_holds_a_bare_dataclass_field(module: str):
    """``field(...)`` in a class body without ``@dataclass`` leaves a Field object as a class attribute."""
    for _, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
        if not cls.__module__.startswith("airflow_provider_canvas"):
            continue
        for name, value in vars(cls).items():
            assert not isinstance(value, dataclasses.Field), f"{cls.__qualname__}.{name} is a bare field()"


def test_rate_limit_status_is_a_dataclass_with_its_own_state():
    first, second = RateLimitStatus(), RateLimitStatus()
    assert dataclasses.is_dataclass(RateLimitStatus)
    assert first.updated_at is None and "updated_at" not in repr(first)
    first.remaining = 5.0
    assert second.remaining is None and first != second


def test_outcome_is_a_dataclass():
    assert [f.name for f in dataclasses.fields(Outcome)] == ["response", "body", "data"]
