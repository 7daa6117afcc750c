"""Small CDK glue: Python callables as the jsii interfaces CDK calls back, stack singletons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import jsii
from aws_cdk import IStableAnyProducer, IStableStringProducer, Stack
from constructs import Construct, IValidation

_T = TypeVar("_T", bound="StackSingleton")


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


class StackSingleton(Construct):
    """A construct of which each stack has one, directly under the stack, under ``ID``."""

    ID: ClassVar[str]

    @classmethod
    def of(cls: type[_T], scope: Construct) -> _T:
        """The one of ``scope``'s stack, created on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(cls.ID)
        return existing if isinstance(existing, cls) else cls(stack, cls.ID)
