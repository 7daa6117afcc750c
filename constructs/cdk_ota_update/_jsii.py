"""Python callables as the jsii interfaces CDK calls back (``Lazy`` producers, validations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsii
from aws_cdk import IStableAnyProducer, IStableStringProducer

from constructs import IValidation


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
