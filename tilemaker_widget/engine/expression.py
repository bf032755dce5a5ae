"""Band math: a safe evaluator for expressions of layers, with units.

An expression is parsed once with `ast` and every node is checked against a short
whitelist (numbers, input names, unit names, arithmetic, comparisons, a few functions);
anything else is refused with a message naming it. User text is never given to `eval`.
The checked tree is compiled into plain Python closures over numpy, so evaluating it
per tile costs numpy calls only.

Units are worked out at compile time, from the inputs' units (``BUNIT``): sums,
differences, comparisons, ``where`` branches, ``min``/``max`` need compatible units
(the right operand is converted to the left one's unit, ``uK - K`` works), products
and quotients combine them, ``sqrt`` halves the powers. A bare number adopts the unit
of what it is added to (``a - 3`` is in ``a``'s unit); a number times a unit name is a
constant with units (``a > 3 * uK``, ``a - 2 * mK``). An input whose units are unknown
is compatible with anything.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_LENGTH = 2000
"""Longest expression text accepted (characters)."""
MAX_NODES = 400
"""Most syntax nodes accepted: expressions are formulas, not programs."""


class ExpressionError(ValueError):
    """An expression that cannot be used; the message names the problem."""


Env = Mapping[str, np.ndarray]
Fn = Callable[[Env], Any]


@dataclass(frozen=True)
class Compiled:
    """An expression ready to evaluate: ``fn(values by input name)`` and its result's unit."""

    text: str
    names: tuple[str, ...]
    """The inputs it reads, in order of first use."""
    unit: Any
    """An astropy unit, or None when unknown."""
    fn: Fn

    @property
    def unit_string(self) -> str | None:
        if self.unit is None:
            return None
        text = self.unit.to_string()
        return text or None

    def __call__(self, values: Env) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self.fn(values)
        return out


@dataclass(frozen=True)
class _Node:
    fn: Fn
    unit: Any  # astropy unit or None (unknown)
    bare: bool = False  # a plain number: adopts the unit of what it is added to


def _units():
    from astropy import units as u

    return u


def _scale(src: Any, dst: Any, what: str) -> float:
    """Factor turning values in ``src`` into ``dst``; ExpressionError if incompatible."""
    if src is None or dst is None or src == dst:
        return 1.0
    u = _units()
    try:
        return float(src.to(dst))
    except u.UnitConversionError:
        raise ExpressionError(
            f"{what}: units {src.to_string() or 'dimensionless'} and "
            f"{dst.to_string() or 'dimensionless'} are not compatible"
        ) from None


def _scaled(node: _Node, factor: float) -> Fn:
    if factor == 1.0:
        return node.fn
    f = node.fn
    return lambda env: f(env) * np.float32(factor)


def _align(a: _Node, b: _Node, what: str) -> tuple[Fn, Fn, Any, bool]:
    """Both operands in one unit (the left's, unless it is a bare number)."""
    if a.bare and b.bare:
        return a.fn, b.fn, None, True
    if a.bare:
        return a.fn, b.fn, b.unit, False
    if b.bare:
        return a.fn, b.fn, a.unit, False
    unit = a.unit if a.unit is not None else b.unit
    return _scaled(a, _scale(a.unit, unit, what)), _scaled(b, _scale(b.unit, unit, what)), unit, False


def _as_float(x: Any) -> Any:
    """Booleans (comparisons) become 0/1 float32 when used as numbers."""
    if isinstance(x, np.ndarray) and x.dtype == bool:
        return x.astype(np.float32)
    return x


def _where(c: Any, a: Any, b: Any) -> Any:
    return np.where(np.asarray(c) != 0, a, b)


_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
}
_COMPARE = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "nan": math.nan, "inf": math.inf}
_SYMBOLS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}
FUNCTIONS = ("sqrt", "abs", "log10", "log", "exp", "where", "min", "max", "atan2", "degrees", "isfinite")
"""The functions an expression may call."""


class _Compiler:
    def __init__(self, units: Mapping[str, str | None]) -> None:
        u = _units()
        self.inputs: dict[str, Any] = {}
        for name, text in units.items():
            try:
                self.inputs[name] = None if not text else u.Unit(text)
            except (ValueError, TypeError):
                self.inputs[name] = None  # units astropy cannot read: unknown
        self.used: list[str] = []

    def compile(self, node: ast.AST) -> _Node:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExpressionError(f"{_describe(node)} is not allowed in an expression")
        return method(node)

    # -- leaves ---------------------------------------------------------------
    def _Constant(self, node: ast.Constant) -> _Node:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExpressionError(f"constant {v!r} is not a number")
        try:
            value = float(v)  # never a Python int: 10**10**10 must not hold the interpreter
        except OverflowError:
            value = math.inf
        return _Node(lambda env: value, None, bare=True)

    def _Name(self, node: ast.Name) -> _Node:
        name = node.id
        if name in self.inputs:
            if name not in self.used:
                self.used.append(name)
            return _Node(lambda env: env[name], self.inputs[name])
        if name in _CONSTANTS:
            value = _CONSTANTS[name]
            return _Node(lambda env: value, None, bare=True)
        u = _units()
        try:
            unit = u.Unit(name, parse_strict="raise")
        except (ValueError, TypeError):
            unit = None
        if unit is None or isinstance(unit, u.UnrecognizedUnit):
            have = ", ".join(sorted(self.inputs)) or "none"
            raise ExpressionError(f"unknown name {name!r} (inputs: {have}; or a unit such as uK)")
        return _Node(lambda env: 1.0, unit)

    # -- operators ------------------------------------------------------------
    def _BinOp(self, node: ast.BinOp) -> _Node:
        op = type(node.op)
        a, b = self.compile(node.left), self.compile(node.right)
        if op is ast.Pow:
            if not b.bare:
                raise ExpressionError("a power must be a plain number (a ** 2, a ** 0.5)")
            with np.errstate(all="ignore"):
                p = float(b.fn({}))
            fa = a.fn
            return _Node(lambda env: np.power(_as_float(fa(env)), np.float32(p)), None if a.unit is None else a.unit**p, a.bare)
        if op not in _BINARY:
            raise ExpressionError(f"operator {_describe(node.op)} is not allowed")
        func = _BINARY[op]
        if op in (ast.Add, ast.Sub):
            fa, fb, unit, bare = _align(a, b, f"'{_SYMBOLS[op]}'")
            return _Node(lambda env: func(_as_float(fa(env)), _as_float(fb(env))), unit, bare)
        fa, fb = a.fn, b.fn
        if a.unit is None and not a.bare or b.unit is None and not b.bare:
            unit = None
        else:
            u = _units()
            ua = a.unit if a.unit is not None else u.dimensionless_unscaled
            ub = b.unit if b.unit is not None else u.dimensionless_unscaled
            unit = ua * ub if op is ast.Mult else ua / ub
        return _Node(lambda env: func(_as_float(fa(env)), _as_float(fb(env))), unit, a.bare and b.bare)

    def _UnaryOp(self, node: ast.UnaryOp) -> _Node:
        a = self.compile(node.operand)
        fa = a.fn
        if isinstance(node.op, ast.USub):
            return _Node(lambda env: np.negative(_as_float(fa(env))), a.unit, a.bare)
        if isinstance(node.op, ast.UAdd):
            return a
        if isinstance(node.op, ast.Not):
            return _Node(lambda env: np.logical_not(fa(env)), _dimensionless(), a.bare)
        raise ExpressionError(f"operator {_describe(node.op)} is not allowed")

    def _Compare(self, node: ast.Compare) -> _Node:
        parts: list[Fn] = []
        left = self.compile(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.compile(right_node)
            if type(op) not in _COMPARE:
                raise ExpressionError(f"comparison {_describe(op)} is not allowed")
            fa, fb, _, _ = _align(left, right, f"'{_SYMBOLS[type(op)]}'")
            func = _COMPARE[type(op)]
            parts.append(lambda env, fa=fa, fb=fb, func=func: func(fa(env), fb(env)))
            left = right
        if len(parts) == 1:
            return _Node(parts[0], _dimensionless())
        return _Node(lambda env: np.logical_and.reduce([p(env) for p in parts]), _dimensionless())

    def _BoolOp(self, node: ast.BoolOp) -> _Node:
        items = [self.compile(v).fn for v in node.values]
        func = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return _Node(lambda env: func.reduce([np.asarray(f(env)) != 0 for f in items]), _dimensionless())

    def _Call(self, node: ast.Call) -> _Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            raise ExpressionError(f"function {name!r} is not allowed (allowed: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise ExpressionError(f"{node.func.id}() takes no keyword arguments")
        name = node.func.id
        args = [self.compile(a) for a in node.args]
        want = {"where": 3, "min": 2, "max": 2, "atan2": 2}.get(name, 1)
        if len(args) != want:
            raise ExpressionError(f"{name}() takes {want} argument{'s' if want > 1 else ''}, not {len(args)}")
        if name == "where":
            c, a, b = args
            fa, fb, unit, bare = _align(a, b, "where()")
            fc = c.fn
            return _Node(lambda env: _where(fc(env), _as_float(fa(env)), _as_float(fb(env))), unit, bare and c.bare)
        if name in ("min", "max", "atan2"):
            a, b = args
            fa, fb, unit, bare = _align(a, b, f"{name}()")
            func = {"min": np.fmin, "max": np.fmax, "atan2": np.arctan2}[name]
            if name == "atan2":
                unit, bare = _units().rad, False
            return _Node(lambda env: func(_as_float(fa(env)), _as_float(fb(env))), unit, bare)
        (a,) = args
        fa = a.fn
        if name == "sqrt":
            unit = None if a.unit is None else a.unit**0.5
            return _Node(lambda env: np.sqrt(_as_float(fa(env))), unit, a.bare)
        if name == "abs":
            return _Node(lambda env: np.abs(_as_float(fa(env))), a.unit, a.bare)
        if name == "degrees":
            return _Node(lambda env: np.degrees(_as_float(fa(env))), _units().deg, a.bare)
        if name == "isfinite":
            return _Node(lambda env: np.isfinite(fa(env)), _dimensionless(), a.bare)
        # log10, log, exp: of the values as they are, in whatever unit (log10 of an
        # inverse-variance map is a common picture); the result is a pure number.
        func = {"log10": np.log10, "log": np.log, "exp": np.exp}[name]
        return _Node(lambda env: func(_as_float(fa(env))), _dimensionless(), a.bare)


def _dimensionless() -> Any:
    return _units().dimensionless_unscaled


def _describe(node: ast.AST) -> str:
    names = {
        "Attribute": "attribute access", "Subscript": "indexing", "Lambda": "lambda",
        "IfExp": "'x if c else y' (use where(c, x, y))", "Starred": "*args",
        "List": "a list", "Tuple": "a tuple", "Dict": "a dict", "Set": "a set",
        "ListComp": "a comprehension", "GeneratorExp": "a generator", "NamedExpr": "':='",
        "FloorDiv": "'//'", "Mod": "'%'", "MatMult": "'@'", "BitAnd": "'&' (use 'and')",
        "BitOr": "'|' (use 'or')", "BitXor": "'^'", "LShift": "'<<'", "RShift": "'>>'",
        "Invert": "'~'", "Is": "'is'", "IsNot": "'is not'", "In": "'in'", "NotIn": "'not in'",
        "JoinedStr": "an f-string", "Await": "await", "Yield": "yield", "Call": "a call",
    }
    kind = type(node).__name__
    return names.get(kind, kind)


def names_in(text: str) -> list[str]:
    """The identifiers an expression uses that are not functions (inputs, units, constants)."""
    tree = parse(text)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    out: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and id(n) not in funcs and n.id not in out:
            out.append(n.id)
    return out


def parse(text: str) -> ast.Expression:
    """The syntax tree of ``text``, size-checked; ExpressionError on bad syntax."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; at most {MAX_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression {text!r}: {exc.msg} (column {exc.offset})") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"invalid expression {text[:80]!r}") from None
    n = sum(1 for _ in ast.walk(tree))
    if n > MAX_NODES:
        raise ExpressionError(f"the expression has {n} parts; at most {MAX_NODES}")
    return tree


def compile_expression(text: str, units: Mapping[str, str | None]) -> Compiled:
    """Check and compile ``text`` over inputs named by ``units``' keys (their units as values).

    Raises
    ------
    ExpressionError
        Bad syntax, a construct outside the whitelist, an unknown name, incompatible units.
    """
    tree = parse(text)
    compiler = _Compiler(units)
    node = compiler.compile(tree.body)
    fn = node.fn

    def run(env: Env) -> np.ndarray:
        out = fn(env)
        return _as_float(out)

    return Compiled(text.strip(), tuple(compiler.used), node.unit, run)
