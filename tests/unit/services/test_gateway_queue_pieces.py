"""The gateway's conditional GET and the export's cells, as pure functions."""

from pydantic import BaseModel

from pantau_gateway.conditional import conditional, matches
from pantau_gateway.exports import HEADINGS, ExportRow, cells


class Page(BaseModel):
    items: list[int]


def test_an_unchanged_page_is_not_modified_and_a_changed_one_is_sent() -> None:
    first = conditional(Page(items=[1, 2]), None)
    tag = first.headers["etag"]
    assert first.status_code == 200 and first.body == b'{"items":[1,2]}'
    assert conditional(Page(items=[1, 2]), tag).status_code == 304
    assert conditional(Page(items=[1, 2]), f'"other", W/{tag}').status_code == 304
    assert conditional(Page(items=[1, 3]), tag).status_code == 200
    assert matches("*", tag) and not matches('"nope"', tag) and not matches(None, tag)


def test_cells_follow_the_headings_and_never_start_a_formula() -> None:
    row = ExportRow.model_validate(
        {
            "case_id": "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91",
            "state": "new",
            "resolution": None,
            "opened_at": "2024-02-12T01:15:00Z",
            "event_at": None,
            "event_local_time": None,
            "region_code": "33.75",
            "platform": "facebook",
            "url": "https://facebook.com/posts/1",
            "authors": ["@akun", "@lain"],
            "summary": "=1+1",
            "categories": ["Hoaks"],
            "legal_basis": ["UU 7/2017 Pasal 280 ayat (1)"],
            "priority": 67,
            "priority_level": "high",
            "assignee": "-siti",
            "source": "report",
            "report_count": 1,
            "reporter_count": 1,
            "routed_to": [],
            "evidence_sha256": ["a" * 64],
            "evidence_urls": [],
            "report_ids": [],
        }
    )
    values = dict(zip(HEADINGS.values(), cells(row), strict=True))
    assert list(HEADINGS) == list(ExportRow.model_fields)
    assert values["uraian_kejadian"] == "'=1+1"
    assert values["terlapor_akun"] == "'@akun; @lain"
    assert values["petugas"] == "'-siti"
    assert values["prioritas"] == 67 and values["dibuka_pada_utc"] == "2024-02-12T01:15:00+00:00"
    assert values["bukti_sha256"] == "a" * 64 and values["penyelesaian"] is None
