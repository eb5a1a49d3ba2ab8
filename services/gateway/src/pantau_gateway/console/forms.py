"""Form posts of the console, validated by the contract's own models, refusals said in Indonesian
as the API says them. (The CSRF token of each post is checked with the session, `roles`.)"""

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from .. import problems

T = TypeVar("T")


class FormInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def build(make: Callable[[], T]) -> T:
    """A contract model from form fields; what it refuses, said as the API says it."""
    try:
        return make()
    except ValidationError as error:
        detail, _ = problems.field_errors(error.errors())
        raise FormInvalid(detail) from error
