"""Numbers as users type them on the command line, parsed one strict way everywhere."""

from __future__ import annotations

import math
import re

import click

from lowcap.errors import UserInputError

_WHOLE = re.compile(r"[+-]?\d+")


def parse_number(text: str, kind: type = float) -> int | float:
    """One number as the user typed it, strictly: a whole number (`kind=int`) is digits with
    an optional sign (no 8.9, no 1e3, no nan); a float is any finite decimal (no nan, no inf,
    no 1e400). UserInputError naming the text otherwise."""
    text = text.strip()
    if kind is int:
        if not _WHOLE.fullmatch(text):
            raise UserInputError(f"{text!r}: expected a whole number")
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise UserInputError(f"{text!r}: expected a number") from None
    if not math.isfinite(value):
        raise UserInputError(f"{text!r}: expected a finite number")
    return value


class Number(click.ParamType):
    """A click option type that parses with `parse_number` (whole or finite), optionally with
    a least value: every numeric option of every command is read the same strict way."""

    def __init__(self, kind: type = float, minimum: float | None = None):
        self.kind, self.minimum = kind, minimum
        self.name = "integer" if kind is int else "number"

    def convert(self, value, param, ctx):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # a default: checked like typed text
        try:
            number = parse_number(value, self.kind)
        except UserInputError as exc:
            self.fail(str(exc), param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"{value!r} is below {self.minimum:g}", param, ctx)
        return number
