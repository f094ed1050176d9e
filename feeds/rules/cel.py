"""Common Expression Language for rule conditions and computed values (cel-python).

CEL is side-effect free and has no functions that reach the network or the file system. An expression
sees one batch as `identities`, `attributes`, `event` (`name`, `type`, `attributes`) and `environment`
(feeds.rules.CEL_VARIABLES). It is checked as typed: syntax, names of variables and functions, each
problem reported at its line and column.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from lark import Token, Tree

from feeds.rules import CEL_VARIABLES

MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter"})


class CelError(Exception):
    """An expression failed on one row (a missing field, a wrong type): that row is rejected with this message."""


def _text(value: Any) -> celtypes.StringType:
    return celtypes.StringType(str(value))


# wsync's additions to CEL's standard functions, for the cleaning rules marketers write most.
FUNCTIONS: dict[str, Any] = {
    "lowerAscii": lambda s: celtypes.StringType(str(s).lower()),
    "upperAscii": lambda s: celtypes.StringType(str(s).upper()),
    "trim": lambda s: celtypes.StringType(str(s).strip()),
    "sha256": lambda s: celtypes.StringType(hashlib.sha256(str(s).encode()).hexdigest()),
    "text": _text,
}


@lru_cache(maxsize=1)
def _environment() -> celpy.Environment:
    return celpy.Environment()


@lru_cache(maxsize=1)
def known_functions() -> frozenset[str]:
    """Return the function names an expression may call."""
    from celpy.evaluation import base_functions

    return frozenset(base_functions) | frozenset(FUNCTIONS) | MACROS


def expression_problem(expression: str) -> str | None:
    """Return what is wrong with the expression, with its line and column, else None."""
    try:
        tree = _environment().compile(expression)
    except celpy.CELParseError as error:
        where = f"Line {error.line}, column {error.column}: " if getattr(error, "line", None) else ""
        return f"{where}the expression is not valid CEL here: {_first_line(str(error))}"
    return _names_problem(tree)


def _first_line(message: str) -> str:
    lines = [line for line in message.splitlines() if line.strip()]
    return f"“{lines[0].strip()}”" if lines else message


def _names_problem(tree: Tree) -> str | None:
    bound = _bound_names(tree)
    functions = known_functions()
    for node in tree.iter_subtrees_topdown():
        if node.data == "ident" and isinstance(node.children[0], Token):
            token = node.children[0]
            if str(token) not in CEL_VARIABLES and str(token) not in bound:
                return _at(token, f"“{token}” is not a variable; use {', '.join(CEL_VARIABLES)}.")
        elif node.data in ("ident_arg", "member_dot_arg"):
            token = node.children[0 if node.data == "ident_arg" else 1]
            if isinstance(token, Token) and str(token) not in functions:
                return _at(
                    token,
                    f"“{token}” is not a function; use e.g. size, contains, startsWith, lowerAscii, trim, sha256.",
                )
    return None


def _bound_names(tree: Tree) -> set[str]:
    """Return the names macros bind (x in list.exists(x, x > 1))."""
    bound = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and str(node.children[1]) in MACROS and len(node.children) > 2:
            first = next(iter(node.children[2].iter_subtrees_topdown()), None)
            for sub in first.iter_subtrees_topdown() if first is not None else ():
                if sub.data == "ident":
                    bound.add(str(sub.children[0]))
                    break
    return bound


def _at(token: Token, message: str) -> str:
    return f"Line {token.line}, column {token.column}: {message}"


@lru_cache(maxsize=256)
def compile_expression(expression: str) -> Any:
    """Return a runnable program; assumes expression_problem found nothing."""
    env = _environment()
    return env.program(env.compile(expression), functions=FUNCTIONS)


def evaluate(program: Any, variables: dict[str, Any]) -> Any:
    """Return the expression's value for one batch as plain JSON values; raises CelError."""
    try:
        result = program.evaluate({k: celpy.json_to_cel(v) for k, v in variables.items()})
    except celpy.CELEvalError as error:
        raise CelError(_eval_message(error)) from None
    except (TypeError, ValueError, KeyError, ArithmeticError) as error:
        raise CelError(str(error)) from None
    if isinstance(result, celpy.CELEvalError):
        raise CelError(_eval_message(result))
    return plain(result)


def _eval_message(error: Exception) -> str:
    first = error.args[0] if error.args else str(error)
    text = str(first)
    if text.startswith("no such member in mapping"):
        return f"the row has no {text.split(':', 1)[1].strip()} (guard it with has(…))"
    return text


def truth(value: Any) -> bool:
    """Return a condition's result; anything but true or false is an error on that row."""
    if isinstance(value, bool):
        return value
    raise CelError(f"the condition gave {value!r}, not true or false")


def plain(value: Any) -> Any:
    """Return a CEL value as the JSON value a batch holds."""
    if value is None:
        return None
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.MapType):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, celtypes.ListType):
        return [plain(v) for v in value]
    if isinstance(value, (celtypes.TimestampType,)):
        return value.isoformat()
    return str(value)
