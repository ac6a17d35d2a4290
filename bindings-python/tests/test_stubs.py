"""The hand-written stubs match the native module: the same names, the same methods, and the
same parameters for every function and method. A stale `_native.pyi` fails here."""

from __future__ import annotations

import ast
import inspect
import pathlib

import pytest
import trainpod
from trainpod import _native

PACKAGE = pathlib.Path(trainpod.__file__).parent
STUB = ast.parse((PACKAGE / "_native.pyi").read_text())


def stub_items(body: list[ast.stmt]) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            found.setdefault(node.name, node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


STUBS = stub_items(STUB.body)
NATIVE = sorted(n for n in dir(_native) if not n.startswith("_"))


def stub_params(fn: ast.FunctionDef) -> list[str]:
    a = fn.args
    names = [p.arg for p in [*a.posonlyargs, *a.args]]
    if a.vararg:
        names.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        names.append("*")
    names += [p.arg for p in a.kwonlyargs]
    return [n for n in names if n != "self"]


def native_params(obj: object) -> list[str] | None:
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    names: list[str] = []
    star = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            names.append("*" + p.name)
            star = True
        elif p.kind is p.KEYWORD_ONLY and not star:
            names.append("*")
            star = True
        if p.kind is not p.VAR_POSITIONAL:
            names.append(p.name)
    return [n for n in names if n not in ("self", "$self")]


def test_the_stub_names_every_native_item_and_nothing_else() -> None:
    assert NATIVE == sorted(n for n in STUBS if not n.startswith("_"))


@pytest.mark.parametrize("name", [n for n in NATIVE if inspect.isclass(getattr(_native, n))])
def test_each_class_stub_has_the_native_methods_and_parameters(name: str) -> None:
    cls = getattr(_native, name)
    node = STUBS[name]
    assert isinstance(node, ast.ClassDef)
    members = stub_items(node.body)
    dunder = {"__init__", "__iter__", "__next__", "__aiter__", "__anext__", "__enter__", "__exit__"}
    native = {n for n in vars(cls) if not n.startswith("_") or n in dunder}
    if "__init__" in members:
        native.add("__init__")
    stubbed = {n for n in members if not n.startswith("_") or n in dunder}
    assert native == stubbed, name
    for member, fn in members.items():
        if not isinstance(fn, ast.FunctionDef) or member not in native:
            continue
        target = cls if member == "__init__" else getattr(cls, member)
        params = native_params(target)
        if params is None or any(
            isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list
        ):
            continue
        assert params == stub_params(fn), f"{name}.{member}"


@pytest.mark.parametrize("name", [n for n in NATIVE if inspect.isbuiltin(getattr(_native, n))])
def test_each_function_stub_has_the_native_parameters(name: str) -> None:
    node = STUBS[name]
    assert isinstance(node, ast.FunctionDef)
    assert native_params(getattr(_native, name)) == stub_params(node)


def test_the_package_ships_its_type_marker_and_exports_what_it_names() -> None:
    assert (PACKAGE / "py.typed").exists()
    for name in trainpod.__all__:
        assert hasattr(trainpod, name), name
