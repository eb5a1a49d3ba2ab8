from pantau_shared.contract import Category, CategoryScore, PriorityLevel
from pantau_triage.classify import TriageClassifier
from pantau_triage.priority import assess, level_of


def score(category: Category, value: float) -> CategoryScore:
    return CategoryScore(category=category, score=value, reason="uji")


def test_more_severe_categories_rank_higher() -> None:
    sara = assess([score(Category.SARA, 0.9)], reporters=1, reports=1)
    insult = assess([score(Category.PENGHINAAN, 0.9)], reporters=1, reports=1)
    nothing = assess([], reporters=1, reports=1)
    assert sara.score > insult.score > nothing.score


def test_independent_reporters_raise_priority_more_than_forwards_from_one_person() -> None:
    base = [score(Category.HOAKS, 0.8)]
    one = assess(base, reporters=1, reports=1)
    forwarded = assess(base, reporters=1, reports=20)
    many = assess(base, reporters=20, reports=20)
    assert one.score < forwarded.score < many.score
    assert any("20 pelapor" in reason for reason in many.reasons)


def test_priority_is_bounded_and_levels_follow_thresholds() -> None:
    worst = assess([score(Category.HASUTAN, 1.0)], reporters=10_000, reports=50_000)
    assert worst.score == 100 and worst.level is PriorityLevel.CRITICAL
    assert level_of(0) is PriorityLevel.LOW
    assert level_of(25) is PriorityLevel.MEDIUM
    assert level_of(74) is PriorityLevel.HIGH


def test_classifier_combines_rules_and_model_with_readable_reasons() -> None:
    classifier = TriageClassifier.packaged()
    money = classifier.classify("Besok SERANGAN FAJAR, tiap rumah dapat amplop dari tim sukses")
    assert money[0].category is Category.POLITIK_UANG
    assert "serangan fajar" in money[0].reason
    sara = {c.category for c in classifier.classify("dasar cina kafir pengkhianat bangsa")}
    assert Category.SARA in sara
    assert classifier.classify("Jadwal rapat pleno KPU hari Senin pukul 09.00") == []
    assert classifier.classify("   ") == []


def test_campaign_cues_alone_are_not_flagged_without_the_calendar() -> None:
    found = TriageClassifier.packaged().classify("Ayo coblos nomor 3 tanggal 14 Februari")
    assert Category.KAMPANYE_LUAR_JADWAL not in {c.category for c in found}


def test_reasons_do_not_repeat_the_words_they_already_name() -> None:
    from pantau_triage.nlp.rules import cite

    said = "Menyebut pembagian uang kepada pemilih (serangan fajar)"
    assert cite(said, ["serangan fajar", "serangan fajar"]) == said
    assert cite(said, ["serangan fajar", "amplop"]) == said[:-1] + "; kata: amplop)"
    assert cite("Menyebut amplop", ["amplop", "100 ribu"]) == "Menyebut amplop (kata: 100 ribu)"
    classifier = TriageClassifier.packaged()
    for text in (
        "Besok pagi serangan fajar di Kelurahan Podosugih, tiap rumah dapat amplop 100 ribu",
        "Ini hoaks, jangan disebar: katanya surat suara sudah tercoblos",
    ):
        for found in classifier.classify(text):
            assert ") (" not in found.reason, found.reason


def test_a_reason_is_given_once() -> None:
    factor = (5.0, "Akun mirip akun resmi (perlu ditinjau)")
    priority = assess([score(Category.HOAKS, 0.9)], reporters=1, reports=1, factors=[factor, factor])
    assert len(priority.reasons) == len(set(priority.reasons))


def test_unverified_mail_ranks_below_the_same_report_verified() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from pantau_shared.contract import Channel, Platform, ReportReceived, SenderAuth
    from pantau_triage.priority import unverified_sender

    def mail(auth: SenderAuth | None, channel: Channel = Channel.EMAIL) -> ReportReceived:
        now = datetime.now(UTC)
        return ReportReceived(
            report_id=uuid4(),
            agency_id="bawaslu-3375",
            channel=channel,
            submitted_at=now,
            received_at=now,
            platform=Platform.UNKNOWN,
            raw_sha256="0" * 64,
            sender_auth=auth,
        )

    passed = SenderAuth(verdict="pass", dmarc="pass", method="authentication-results")
    assert not unverified_sender(mail(passed))
    assert unverified_sender(mail(SenderAuth(verdict="fail", spf="fail")))
    assert unverified_sender(mail(None))
    assert not unverified_sender(mail(None, Channel.WHATSAPP))  # only mail has a sender to verify

    base = [score(Category.POLITIK_UANG, 0.8)]
    verified = assess(base, reporters=1, reports=1)
    unverified = assess(base, reporters=1, reports=1, unverified=True)
    assert unverified.score < verified.score
    assert any("tidak terverifikasi" in reason for reason in unverified.reasons)
