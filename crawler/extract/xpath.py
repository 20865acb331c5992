"""What a site's XPath may use: XPath 1.0 without namespaces, variables or extension functions.

lxml compiles ``//p[php:function('system','id')]`` or ``//p[$x]`` without complaint and only
fails when it evaluates them on a page, so a crawl dropped every page as ``bad_selector``
while `zhengwen check-site` had said the config was fine. `xpath_problem` reads the expression's
tokens (the XPath 1.0 grammar's lexical rules) and refuses, when the config loads:

- a namespace prefix (``php:function``, ``re:test``, ``x:p``): no namespace is ever bound;
- a variable (``$x``): none is ever bound;
- a function outside XPath 1.0's core library (``foo()``, XPath 2's ``lower-case()``), or a
  core function given a number of arguments it does not take (``count()``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The core function library (XPath 1.0, section 4): name -> (least, most) arguments; None:
#: any number from the least.
CORE_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "last": (0, 0),
    "position": (0, 0),
    "count": (1, 1),
    "id": (1, 1),
    "local-name": (0, 1),
    "namespace-uri": (0, 1),
    "name": (0, 1),
    "string": (0, 1),
    "concat": (2, None),
    "starts-with": (2, 2),
    "contains": (2, 2),
    "substring-before": (2, 2),
    "substring-after": (2, 2),
    "substring": (2, 3),
    "string-length": (0, 1),
    "normalize-space": (0, 1),
    "translate": (3, 3),
    "boolean": (1, 1),
    "not": (1, 1),
    "true": (0, 0),
    "false": (0, 0),
    "lang": (1, 1),
    "number": (0, 1),
    "sum": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "round": (1, 1),
}
NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})
_OPERATOR_NAMES = frozenset({"and", "or", "mod", "div"})
_OPERATORS = frozenset({"/", "//", "|", "+", "-", "=", "!=", "<", "<=", ">", ">="})
#: After these (or an operator) a name or ``*`` is an operand, not an operator (XPath 1.0, 3.7).
_OPERAND_AFTER = frozenset({"@", "::", "(", "[", ","})

_NCNAME = r"[^\W\d][\w.\-]*"
_TOKEN_RE = re.compile(
    rf"""
    (?P<space>\s+)
  | (?P<literal>"[^"]*"|'[^']*')
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<variable>\$)
  | (?P<name>{_NCNAME}(?::(?:{_NCNAME}|\*))?)
  | (?P<punct>\.\.|::|//|!=|<=|>=|[/()\[\].@,|+=<>*-])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(slots=True)
class _Group:
    """An open ``(`` or ``[``: the function it calls, if any, and its arguments so far."""

    function: str = ""
    commas: int = 0
    empty: bool = True


def xpath_problem(expr: str, allowed_prefixes: frozenset[str] = frozenset()) -> str | None:
    """Why ``expr`` (an XPath lxml compiled) would fail on a page, or None. Function prefixes in
    ``allowed_prefixes`` are lxml's own (its CSS translation uses one)."""
    tokens = [(m.lastgroup or "", m.group()) for m in _TOKEN_RE.finditer(expr)]
    tokens = [t for t in tokens if t[0] != "space"]
    prev: tuple[str, str] | None = None  # (kind, text); kind "operator" for operators
    groups: list[_Group] = []
    for i, (kind, text) in enumerate(tokens):
        if kind == "call":  # a function call's own '(', its group already open
            prev = ("punct", text)
            continue
        after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        operand_next = prev is None or prev[0] == "operator" or prev[1] in _OPERAND_AFTER
        if groups and text not in (")", "]"):
            groups[-1].empty = False
        if kind == "variable":
            return "variables ($name) are not allowed: no value is ever bound to them"
        if kind == "name" and not operand_next and text in _OPERATOR_NAMES:
            kind = "operator"
        elif kind == "name":
            prefix, colon, local = text.rpartition(":")
            is_function = after == "(" and text not in NODE_TYPES
            if colon and not (is_function and prefix in allowed_prefixes):
                return f"namespace prefix {prefix + ':'!r} in {text!r}: no namespace is bound"
            if is_function and not colon and text not in CORE_FUNCTIONS:
                return f"{text}() is not a function of XPath 1.0's core library"
            if is_function:
                groups.append(_Group("" if colon else local))
                tokens[i + 1] = ("call", "(")
        elif kind == "punct" and (text in _OPERATORS or (text == "*" and not operand_next)):
            kind = "operator"
        elif kind == "punct" and text in ("(", "["):
            groups.append(_Group())
        elif kind == "punct" and text == "," and groups:
            groups[-1].commas += 1
        elif kind == "punct" and text in (")", "]") and groups:
            group = groups.pop()
            given = 0 if group.empty else group.commas + 1
            problem = _arity_problem(group.function, given)
            if problem:
                return problem
        prev = (kind, text)
    return None


def _arity_problem(name: str, given: int) -> str | None:
    if name not in CORE_FUNCTIONS:
        return None
    least, most = CORE_FUNCTIONS[name]
    if given >= least and (most is None or given <= most):
        return None
    takes = (
        str(least) if least == most else f"{least} or more" if most is None else f"{least}-{most}"
    )
    return f"{name}() takes {takes} argument{'' if takes == '1' else 's'}, given {given}"
