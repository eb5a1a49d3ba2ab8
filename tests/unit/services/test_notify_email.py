import email
import email.policy

from pantau_notify.email import render_case_alert
from pantau_notify.settings import NotifySettings

SNAPSHOT = {
    "case_id": "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91",
    "agency_id": "bawaslu-5201",
    "opened_at": "2024-02-12T01:15:00+00:00",
    "region_code": "52.01",
    "platform": "facebook",
    "canonical_url": "https://facebook.com/groups/1/posts/2",
    "summary": "Kades <b>ajak</b> warga coblos nomor 2",
    "priority": 55,
    "priority_level": "high",
    "priority_reasons": ["Netralitas ASN dan perangkat desa (tingkat bahaya 3/5)"],
    "categories": [{"category": "netralitas_asn", "score": 0.9, "reason": "uji"}],
    "report_count": 3,
    "reporter_count": 2,
}


def test_alert_is_indonesian_multipart_in_local_time_with_a_case_link() -> None:
    settings = NotifySettings(case_link_base="https://pantau.example/kasus/")
    rendered = render_case_alert(
        SNAPSHOT,
        settings=settings,
        recipient="patroli@example.id",
        delivery_id="018d9a1e-3c80-7c3b-8c1e-5f2a6b7c8d92",
    )
    # Read it back as the recipient's mail program would.
    message = email.message_from_bytes(rendered.as_bytes(), policy=email.policy.default)
    assert message["Subject"] == "[Pantau] Prioritas tinggi: Netralitas ASN dan perangkat desa"
    assert message["To"] == "patroli@example.id"
    assert "018d9a1e-3c80-7c3b-8c1e-5f2a6b7c8d92" in message["Message-ID"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "12-02-2024 09:15 WITA" in plain  # Lombok Barat keeps WITA
    assert "3 laporan dari 2 pelapor" in plain
    assert "https://pantau.example/kasus/018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91" in plain
    assert "&lt;b&gt;ajak&lt;/b&gt;" in html and "<b>ajak</b>" not in html
