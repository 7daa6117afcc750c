"""CloudFormation's intrinsic functions, resolved as a deployment in one account and Region would.

Supported: ``Ref`` (resources, parameters' defaults, pseudo parameters, ``AWS::NoValue``),
``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub`` (both forms), ``Fn::Select``, ``Fn::Split``,
``Fn::ImportValue`` (exports of the stacks rehearsed before), ``Fn::FindInMap``, ``Fn::GetAZs``,
``Fn::Base64``, ``Fn::If`` with the template's ``Conditions`` (``Fn::Equals``, ``Fn::Not``,
``Fn::And``, ``Fn::Or``, ``Condition``). A value that cannot be resolved yet (a resource not brought
up, an export not made) raises :class:`Unresolved` naming it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = "AWS::NoValue"
_SUB = re.compile(r"\$\{([^}]*)\}")


class Unresolved(LookupError):
    """A reference the rehearsal cannot resolve (yet): ``what`` names it."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Removed:
    """``Ref: AWS::NoValue``: the property is dropped."""


REMOVED = _Removed()


@dataclass
class Scope:
    """What the references of one stack resolve to."""

    stack: str
    pseudo: dict[str, Any]
    template: Mapping[str, Any]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    exports: Callable[[str], Any] = field(default=lambda name: _no_export(name))

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise Unresolved(f"the condition {name} of stack {self.stack}")
        return bool(_condition(conditions[name], self))

    def included(self, resource: Mapping[str, Any]) -> bool:
        """Whether a resource exists in this deployment (its ``Condition``, if any, holds)."""
        name = resource.get("Condition")
        return name is None or self.condition(name)


def _no_export(name: str) -> Any:
    raise Unresolved(f"the export {name}")


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every intrinsic function resolved (properties ``AWS::NoValue`` dropped)."""
    resolved = _resolve(value, scope)
    return None if resolved is REMOVED else resolved


def _resolve(value: Any, scope: Scope) -> Any:
    if isinstance(value, list):
        return [r for r in (_resolve(v, scope) for v in value) if r is not REMOVED]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(name, argument)] = value.items()
        function = _FUNCTIONS.get(name)
        if function is not None:
            return function(argument, scope)
        if name.startswith("Fn::"):
            raise Unresolved(f"the intrinsic function {name} (not supported by the rehearsal)")
    resolved = {k: _resolve(v, scope) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not REMOVED}


def _ref(name: str, scope: Scope) -> Any:
    if name == NO_VALUE:
        return REMOVED
    if name in scope.pseudo:
        return scope.pseudo[name]
    if name in scope.refs:
        return scope.refs[name]
    parameter = (scope.template.get("Parameters") or {}).get(name)
    if parameter is not None and "Default" in parameter:
        return parameter["Default"]
    raise Unresolved(f"{scope.stack}/{name}")


def _get_att(argument: Any, scope: Scope) -> Any:
    logical_id, attribute = (
        argument.split(".", 1) if isinstance(argument, str) else _resolve(argument, scope)
    )
    try:
        return scope.attributes[(logical_id, attribute)]
    except KeyError:
        raise Unresolved(f"{scope.stack}/{logical_id}.{attribute}") from None


def _join(argument: Any, scope: Scope) -> str:
    separator, parts = argument
    return str(separator).join(str(p) for p in _resolve(parts, scope))


def _sub(argument: Any, scope: Scope) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {k: _resolve(v, scope) for k, v in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            return str(values[name])
        if "." in name:
            return str(_get_att(name, scope))
        return str(_ref(name, scope))

    return _SUB.sub(replace, text)


def _select(argument: Any, scope: Scope) -> Any:
    index, items = _resolve(argument, scope)
    return items[int(index)]


def _split(argument: Any, scope: Scope) -> list[str]:
    separator, text = _resolve(argument, scope)
    return str(text).split(separator)


def _import(argument: Any, scope: Scope) -> Any:
    return scope.exports(str(_resolve(argument, scope)))


def _find_in_map(argument: Any, scope: Scope) -> Any:
    name, top, second = _resolve(argument, scope)
    try:
        return scope.template["Mappings"][name][top][second]
    except KeyError:
        raise Unresolved(f"the mapping {name}.{top}.{second} of stack {scope.stack}") from None


def _get_azs(argument: Any, scope: Scope) -> list[str]:
    region = _resolve(argument, scope) or scope.pseudo["AWS::Region"]
    return [f"{region}{zone}" for zone in "abc"]


def _base64(argument: Any, scope: Scope) -> str:
    return base64.b64encode(str(_resolve(argument, scope)).encode()).decode()


def _if(argument: Any, scope: Scope) -> Any:
    name, when_true, when_false = argument
    return _resolve(when_true if scope.condition(name) else when_false, scope)


def _condition(value: Any, scope: Scope) -> Any:
    """A condition's value: ``Fn::Equals`` / ``Not`` / ``And`` / ``Or`` / ``Condition``."""
    if isinstance(value, dict) and len(value) == 1:
        [(name, argument)] = value.items()
        if name == "Fn::Equals":
            left, right = (_resolve(a, scope) for a in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not _condition(argument[0], scope)
        if name == "Fn::And":
            return all(_condition(a, scope) for a in argument)
        if name == "Fn::Or":
            return any(_condition(a, scope) for a in argument)
        if name == "Condition":
            return scope.condition(argument)
    return _resolve(value, scope)


_FUNCTIONS: dict[str, Callable[[Any, Scope], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::ImportValue": _import,
    "Fn::FindInMap": _find_in_map,
    "Fn::GetAZs": _get_azs,
    "Fn::Base64": _base64,
    "Fn::If": _if,
}


def references(value: Any) -> set[str]:
    """The logical ids ``value`` refers to (``Ref``, ``Fn::GetAtt``, ``${...}`` in ``Fn::Sub``)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for name, argument in value.items():
            if name == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
                found.add(argument)
            elif name == "Fn::GetAtt":
                found.add(argument.split(".")[0] if isinstance(argument, str) else argument[0])
            elif name == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                found |= {
                    m.split(".")[0] for m in _SUB.findall(text) if not m.startswith(("!", "AWS::"))
                }
                if not isinstance(argument, str):
                    found |= references(argument[1])
                    found -= set(argument[1])
            else:
                found |= references(argument)
    return found


def imports(value: Any) -> list[Any]:
    """The (unresolved) export names ``value`` imports with ``Fn::ImportValue``."""
    if isinstance(value, list):
        return [name for item in value for name in imports(item)]
    if isinstance(value, dict):
        return [
            name
            for key, argument in value.items()
            for name in ([argument] if key == "Fn::ImportValue" else imports(argument))
        ]
    return []
