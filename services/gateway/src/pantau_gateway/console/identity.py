"""Who is signed in to the console, and what their roles let them do.

Authentication, the CSRF check of every form post and the role check are the gateway's own
(`roles.require`, the same declaration the API's routes make); the console adds the officer's
name, which its changes carry as the actor, and the answer to "may I?" for showing a button.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from .. import users
from ..deps import State
from ..roles import ALL_ROLES, STAFF, Principal, Requirement, Role, Scope, require
from ..sessions import CSRF_FIELD

PREFIX = "/konsol"
SIGN_IN = f"{PREFIX}/masuk"


@dataclass(frozen=True)
class Action:
    """Something an officer does in the console, with the roles and scope the API asks for it."""

    roles: tuple[Role, ...]
    scope: Scope | None

    def allows(self, principal: Principal) -> bool:
        return Requirement(frozenset(self.roles), self.scope, contacts=False).refusal(principal) is None


@dataclass(frozen=True)
class Officer:
    principal: Principal
    name: str
    # For the templates: which of the console's actions this officer may take.
    may: Mapping[str, bool]

    @property
    def agency_id(self) -> str:
        return self.principal.agency_id

    @property
    def csrf(self) -> str:
        return self.principal.csrf_token or ""

    @property
    def csrf_field(self) -> str:
        return CSRF_FIELD


# The same roles and scopes as the API's routes for the same change.
ACTIONS = {
    "read": Action(ALL_ROLES, Scope.CASES_READ),
    "acknowledge": Action(STAFF, Scope.CASES_WRITE),
    "transition": Action(STAFF, Scope.CASES_WRITE),
    "classify": Action((Role.ADMIN, Role.SUPERVISOR, Role.ANALYST), Scope.CASES_WRITE),
    "assign": Action((Role.ADMIN, Role.SUPERVISOR), Scope.CASES_WRITE),
    "note": Action(STAFF, Scope.CASES_WRITE),
    "refer": Action(STAFF, Scope.CASES_WRITE),
    "export": Action(ALL_ROLES, Scope.EXPORTS_READ),
    # Signing out needs a session and nothing more.
    "sign_out": Action(ALL_ROLES, None),
}


def signed_in(name: str) -> Any:
    """The dependency of a console route: the officer, who must be allowed the action `name`."""
    action = ACTIONS[name]

    async def officer(
        request: Request, principal: Annotated[Principal, require(*action.roles, scope=action.scope)]
    ) -> Officer:
        current: State = request.state.pantau
        name = principal.name
        if principal.kind == "user":
            user = await users.get(current.infra.pool, principal.agency_id, UUID(principal.id))
            name = user.name if user is not None else name
        return Officer(principal, name, {key: a.allows(principal) for key, a in ACTIONS.items()})

    return Depends(officer)
