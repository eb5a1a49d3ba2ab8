"""Why a message was refused, for a log line or a dead letter."""

from pydantic import ValidationError


def reasons(error: ValidationError) -> str:
    """Where and why each rule failed, never the input: it may be personal data (a sender's
    number, name, or words), and logs and dead letters are not the place for it (UU 27/2022)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in error.errors(include_url=False)
    )
