"""What sealing reporters' contacts costs on the report path, on one core.

    .venv/bin/python bench/sealing.py [--reports 20000]

Measured: a submission built and serialised as the gateway publishes it (sealed), and parsed
and opened as intake reads it; baseline in the same run: the same submission with the reporter
in clear, serialised and parsed. Also the bytes each takes on the stream.
"""

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pantau_shared.contract import Channel, ContactCard, Reporter, ReportSubmitted, new_id
from pantau_shared.sealing import Keyring, Sealer, new_key_pair, open_report, seal_report


def submission() -> ReportSubmitted:
    return ReportSubmitted(
        report_id=new_id(),
        agency_id="bawaslu-3375",
        channel=Channel.WHATSAPP,
        submitted_at=datetime.now(UTC),
        text="Diteruskan: besok pagi serangan fajar di Podosugih, tiap rumah dapat amplop 100 ribu",
        reporter=Reporter(name="Warga Pelapor", phone="6281234567890", wants_updates=True),
        contacts=(ContactCard(name="Pak Bagi", phones=("6285711112222",)),),
    )


def per_second(n: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(n):
        work()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=20_000)
    n = parser.parse_args().reports
    private, public = new_key_pair()
    sealer, keyring = Sealer(public), Keyring([private])
    report = submission()
    clear_bytes = report.model_dump_json().encode()
    sealed_bytes = seal_report(report, sealer).model_dump_json().encode()

    clear_out = per_second(n, lambda: report.model_dump_json().encode())
    sealed_out = per_second(n, lambda: seal_report(report, sealer).model_dump_json().encode())
    clear_in = per_second(n, lambda: ReportSubmitted.model_validate_json(clear_bytes))
    sealed_in = per_second(n, lambda: open_report(ReportSubmitted.model_validate_json(sealed_bytes), keyring))
    print(f"reports: {n}, one core")
    print(f"publish  clear (baseline) {clear_out:10,.0f}/s   sealed {sealed_out:10,.0f}/s")
    print(f"consume  clear (baseline) {clear_in:10,.0f}/s   sealed+opened {sealed_in:10,.0f}/s")
    print(
        f"cost per report: {1e6 / sealed_out - 1e6 / clear_out:.1f} µs to publish, "
        f"{1e6 / sealed_in - 1e6 / clear_in:.1f} µs to consume"
    )
    print(f"bytes on the stream: clear {len(clear_bytes)}, sealed {len(sealed_bytes)}")


if __name__ == "__main__":
    main()
