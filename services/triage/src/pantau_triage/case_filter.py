"""The SQL of a `CaseFilter`: one WHERE clause that the queue, the export and the statistics share.

Each condition is written so an index of migration 008 can serve it (bench/queue_indexes.py shows the
plans on 1,000,000 cases): the owner leads every btree, a routed agency is found through the GIN
index on `routed_to` (`@>`, which `= ANY` could not use), categories through the GIN index on the
JSON, text through the trigram index, and a queue without closed cases says `state <> 'closed'`
literally so the planner may pick the partial indexes of open cases.
"""

import json

from pantau_shared.contract import CaseState
from pantau_shared.contract.queue import CaseFilter, CaseScope
from pantau_shared.paging import Where

from . import repository

QUEUE_COLUMNS = (*repository.CASE_COLUMNS, "assignee", "assigned_at", "source")
OWNED = "agency_id = $1"
ROUTED = "routed_to @> ARRAY[$1]::text[] AND agency_id <> $1"


def scopes(scope: CaseScope) -> list[str]:
    """The visibility condition of each branch of the query: a union of the owner's cases and
    those routed to it reads each through its own index, where an OR would read neither."""
    if scope is CaseScope.OWNED:
        return [OWNED]
    if scope is CaseScope.ROUTED:
        return [ROUTED]
    return [OWNED, ROUTED]


def conditions(agency_id: str, selected: CaseFilter) -> Where:
    """Everything in the filter but visibility, with `$1` bound to the agency."""
    where = Where([agency_id])
    if selected.state:
        where.add(f"state = ANY({where.param([s.value for s in selected.state])}::text[])")
        if CaseState.CLOSED not in selected.state:
            where.add("state <> 'closed'")
    if selected.category:
        either = [
            f"categories @> {where.param(json.dumps([{'category': c.value}]))}::jsonb"
            for c in dict.fromkeys(selected.category)
        ]
        where.add(f"({' OR '.join(either)})")
    if selected.min_priority is not None:
        where.add(f"priority >= {where.param(selected.min_priority)}")
    if selected.region is not None:
        # Inlined: the pattern allows digits and dots only, and a literal prefix lets the planner
        # turn LIKE into an index range on any plan, generic or not.
        where.add(f"region_code LIKE '{_region_literal(selected.region)}%'")
    if selected.source is not None:
        where.add(f"source = {where.param(selected.source.value)}")
    if selected.unassigned:
        where.add("assignee IS NULL")
    elif selected.assignee is not None:
        where.add(f"assignee = {where.param(str(selected.assignee))}")
    for column, lower, upper in (
        ("opened_at", selected.opened_from, selected.opened_to),
        ("updated_at", selected.updated_from, selected.updated_to),
    ):
        if lower is not None:
            where.add(f"{column} >= {where.param(lower)}")
        if upper is not None:
            where.add(f"{column} < {where.param(upper)}")
    if selected.text is not None:
        where.add(f"summary ILIKE {where.param('%' + _like_escaped(selected.text) + '%')}")
    return where


def _region_literal(region: str) -> str:
    if not all(c.isascii() and (c.isdigit() or c == ".") for c in region):
        raise ValueError(f"not a region code: {region!r}")
    return region


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
