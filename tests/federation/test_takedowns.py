"""The takedown loop across instances: Komdigi, handling a case Bawaslu Kota Pekalongan referred,
asks the platform to take the post down; its own re-check sees the post gone on a local site, and
Pekalongan hears the outcome (and its reporter, who asked for news, gets one message)."""

from datetime import datetime, timedelta

import pytest

from pantau_devstack.posts_site import PostsSite
from tests.federation.test_instances import (
    HOAX,
    REPORTER,
    TAKEDOWN_SITE,
    Running,
    _mail_to,
    call,
    case_of,
    received,
    referral_to,
    request,
    running,
    submit,
    updates_of,
)
from tests.waiting import eventually

__all__ = ["running"]  # the instances, started for this module as for the other
pytestmark = pytest.mark.timeout(900)


async def test_komdigis_recheck_sees_the_post_removed_and_pekalongan_hears_the_outcome(
    running: Running,
) -> None:
    pekalongan, komdigi = running["pekalongan"], running["komdigi"]
    async with PostsSite() as site:
        site.add("88", "Surat suara sudah dicoblos di gudang kecamatan")
        url = f"http://{TAKEDOWN_SITE}:{site.base_url.rsplit(':', 1)[1]}/posts/88"
        report = await submit(
            pekalongan, HOAX + " Lihat unggahannya.", "https://www.facebook.com/g/1/posts/88", True
        )
        origin_case = await case_of(pekalongan, report)
        referral = await referral_to(pekalongan, origin_case, "komdigi")
        partner_case = (await received(komdigi, referral["referral_id"]))["case_id"]
        await call(komdigi, "POST", f"/v1/referrals/{referral['referral_id']}/accept", {"actor": "Rina"})
        await call(
            komdigi, "POST", f"/v1/cases/{partner_case}/transitions", {"to": "verifying", "actor": "Rina"}
        )

        asked = {
            "url": url,
            "platform": "facebook",
            "legal_basis": "uu_ite_pasal_28",
            "channel": "portal",
            "urgent": True,
            "actor": "Rina (Patroli Siber Komdigi)",
        }
        # A deadline the client chooses is not part of the request.
        refused = await request(
            komdigi, "POST", f"/v1/cases/{partner_case}/takedowns", asked | {"deadline_at": "x"}
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        made = await call(komdigi, "POST", f"/v1/cases/{partner_case}/takedowns", asked)
        deadline = datetime.fromisoformat(made["deadline_at"]) - datetime.fromisoformat(made["requested_at"])
        assert deadline == timedelta(hours=4)
        assert (await call(komdigi, "GET", f"/v1/cases/{partner_case}"))["state"] == "takedown_requested"
        # Pekalongan cannot see Komdigi's takedown.
        assert (await request(pekalongan, "GET", f"/v1/takedowns/{made['takedown_id']}")).status_code == 404

        async def checked() -> bool:
            seen = await call(komdigi, "GET", f"/v1/takedowns/{made['takedown_id']}")
            return seen["last_seen_live_at"] is not None

        await eventually(checked, timeout=30, what="a re-check seeing the post")
        await call(
            komdigi,
            "POST",
            f"/v1/takedowns/{made['takedown_id']}/responses",
            {"kind": "acknowledged", "platform_request_id": "FB-LE-88", "actor": "Rina"},
        )
        site.remove_after("88", 0, "unavailable")

        async def removed() -> dict | None:
            seen = await call(komdigi, "GET", f"/v1/takedowns/{made['takedown_id']}")
            return seen if seen["status"] == "removed" else None

        gone = await eventually(removed, timeout=30, what="the re-check seeing the post gone")
        assert gone["removal_kind"] == "unavailable_page" and gone["within_deadline"] is True
        assert gone["platform_request_id"] == "FB-LE-88"
        listed = await call(komdigi, "GET", f"/v1/cases/{partner_case}/takedowns")
        assert [t["takedown_id"] for t in listed["takedowns"]] == [made["takedown_id"]]
        figures = await call(komdigi, "GET", "/v1/takedowns/statistics")
        (facebook,) = figures["by_platform"]
        assert (facebook["requested"], facebook["removed"]) == (1, 1)
        assert facebook["time_to_removal"]["median_s"] == pytest.approx(gone["time_to_removal_s"], abs=0.01)

    # Pekalongan hears Komdigi's case closed as taken down, with the time it took.
    done = await updates_of(pekalongan, origin_case, "komdigi", 4)
    assert [u["state"] for u in done["updates"][1:]] == ["verifying", "takedown_requested", "closed"]
    assert done["partner_resolution"] == "taken_down"
    assert "diturunkan dalam" in (done["updates"][-1]["note"] or "")
    mail = await eventually(lambda: _mail_to(running.sink, REPORTER, "diturunkan"), timeout=30)
    assert "komdigi" in mail.lower()
