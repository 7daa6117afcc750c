"""Small CDK glue: Python callables as the jsii interfaces CDK calls back, stack singletons."""

from __future__ import annotations

import functools
import re
import sys
import weakref
from collections.abc import Callable, MutableMapping
from typing import Any, ClassVar, NamedTuple, TypeVar

import jsii
from aws_cdk import Aws, Duration, IStableAnyProducer, IStableStringProducer, Stack, Token
from constructs import Construct, IValidation

from . import api
from .errors import OtaUpdateValidationError

_T = TypeVar("_T", bound="StackSingleton")
_K = TypeVar("_K")
_V = TypeVar("_V")


@jsii.implements(IStableAnyProducer, IStableStringProducer)
class Producer:
    """``Lazy.any(Producer(f))``: ``f()`` once, when the value is first resolved at synth."""

    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    def produce(self) -> Any:
        return self._produce()


@jsii.implements(IValidation)
class Validation:
    """``node.add_validation(Validation(f))``: ``f()`` lists the errors at synth."""

    def __init__(self, validate: Callable[[], list[str]]) -> None:
        self._validate = validate

    def validate(self) -> list[str]:
        return self._validate()


def get_or_make(table: MutableMapping[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    """``table[key]``, made by ``make()`` the first time (values the library keeps on the Python
    side, so that finding them again costs no jsii call)."""
    found = table.get(key)
    if found is None:
        found = table[key] = make()
    return found


def stack_of(scope: Construct) -> Stack:
    """``Stack.of(scope)``, read from jsii once per scope (a stack is its own)."""
    if isinstance(scope, Stack):
        return scope
    return get_or_make(_STACKS, scope, lambda: Stack.of(scope))


_STACKS: weakref.WeakKeyDictionary[Construct, Stack] = weakref.WeakKeyDictionary()


def attribute(obj: Any, name: str) -> Any:
    """``getattr(obj, name)`` for an attribute that never changes (a bucket's name, a signing
    profile's name), read from jsii once per object however many OtaUpdates use it."""
    return get_or_make(_ATTRIBUTES.setdefault(obj, {}), name, lambda: getattr(obj, name))


_ATTRIBUTES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def add_stack_validation(scope: Construct, check: Callable[[], list[str]]) -> None:
    """Run ``check()`` at synth, with the other checks of ``scope``'s stack, in one validation
    of the stack (one jsii callback per stack instead of one per construct); its errors name
    their construct paths themselves."""
    stack = stack_of(scope)
    get_or_make(_CHECKS, stack, lambda: _validated(stack)).append(check)


def _validated(stack: Stack) -> list[Callable[[], list[str]]]:
    """A new list of checks, run by one validation of ``stack`` at synth."""
    checks: list[Callable[[], list[str]]] = []
    stack.node.add_validation(Validation(lambda: [e for c in checks for e in c()]))
    return checks


_CHECKS: weakref.WeakKeyDictionary[Stack, list[Callable[[], list[str]]]] = (
    weakref.WeakKeyDictionary()
)


class StackSingleton(Construct):
    """A construct of which each stack has one, directly under the stack, under ``ID``; kept on
    the Python side when made, so that finding it again costs no jsii call."""

    ID: ClassVar[str]

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        if isinstance(scope, Stack):
            _STACKS[self] = scope
            if id == self.ID:
                _SINGLETONS.setdefault(scope, {})[id] = self

    @classmethod
    def of(cls: type[_T], scope: Construct) -> _T:
        """The one of ``scope``'s stack (a stack itself, or a construct in it), created on first
        use."""
        stack = stack_of(scope)
        return cls.existing(stack) or cls.create(stack, lambda: cls(stack, cls.ID))

    @classmethod
    def existing(cls: type[_T], stack: Stack) -> _T | None:
        found = _SINGLETONS.get(stack, {}).get(cls.ID)
        return found if isinstance(found, cls) else None

    @classmethod
    def create(cls: type[_T], stack: Stack, make: Callable[[], _T]) -> _T:
        """``make()``, the stack's one; a construct of the app that took ``ID`` is named."""
        try:
            return make()
        except RuntimeError:  # jsii's error: "There is already a Construct with name ..."
            if isinstance(stack.node.try_find_child(cls.ID), cls):
                raise
            raise OtaUpdateValidationError(
                f"{stack.node.path}/{cls.ID}: the id {cls.ID!r} is taken by another construct "
                "of the stack: the library needs it; give that construct another id"
            ) from None


_SINGLETONS: weakref.WeakKeyDictionary[Stack, dict[str, Construct]] = weakref.WeakKeyDictionary()


class Pseudo(NamedTuple):
    """The pseudo parameters' tokens."""

    partition: str
    region: str
    account_id: str
    url_suffix: str


# Their names in CloudFormation, and values like theirs (checks at synth use them as samples).
PSEUDO_NAMES = Pseudo("AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix")
PSEUDO_SAMPLES = Pseudo("aws", "us-east-1", "123456789012", "amazonaws.com")


def readable(text: str) -> str:
    """``text`` with pseudo parameters shown as ``${AWS::Region}``, other tokens as ``<token>``."""
    names = {token: f"${{{name}}}" for token, name in zip(pseudo(), PSEUDO_NAMES, strict=True)}
    return TOKEN.sub(lambda m: names.get(m.group(), "<token>"), text)


@functools.cache
def pseudo() -> Pseudo:
    """The pseudo parameters' tokens, read from jsii once per process (they never change)."""
    return Pseudo(Aws.PARTITION, Aws.REGION, Aws.ACCOUNT_ID, Aws.URL_SUFFIX)


@functools.cache
def seconds(count: int) -> Duration:
    """``Duration.seconds(count)``, made once per process: a Duration never changes, and every
    stack's provider uses the same ones."""
    return Duration.seconds(count)


@functools.cache
def stack_id() -> str:
    """AWS::StackId's token, read from jsii once per process (the provider is told it, and its
    role is held to the OTA updates tagged with it)."""
    return Aws.STACK_ID


# How CDK encodes tokens in strings and in lists of strings (stable parts of its contract).
STRING_TOKEN = "${Token["
LIST_TOKEN = "#{Token["
TOKEN = re.compile(re.escape(STRING_TOKEN) + r"[^\]]+\]\}")  # one string token in a string


def unresolved(value: Any) -> bool:
    """A token CDK resolves at deploy time (strings, numbers and lists of them), told without a
    jsii call where the encoding shows it."""
    if isinstance(value, str):
        return STRING_TOKEN in value
    if isinstance(value, list):
        return is_list_token(value)
    return isinstance(value, float) and Token.is_unresolved(value)


def is_list_token(value: list[Any]) -> bool:
    return len(value) == 1 and isinstance(value[0], str) and value[0].startswith(LIST_TOKEN)


def cdk_nag_in_use() -> bool:
    """Whether the app uses cdk-nag (its NagPacks and plugins are created from Python, so the
    module is imported): only then are the library's wildcards worth acknowledging to it."""
    return "cdk_nag" in sys.modules


def iot_arn(resource: str) -> str:
    """An IoT ARN of the stack's account and region."""
    return api.iot_arn(*pseudo()[:3], resource)
