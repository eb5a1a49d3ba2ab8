"""The content as notify writes it after DATA: CRLF lines and doubled leading dots (RFC 5321
4.5.2), the same whichever path the bytes take."""

import re

import pytest

from pantau_notify.smtp import crlf_stuffed


def by_the_rules(content: bytes) -> bytes:
    lines = re.sub(rb"\r\n|\n|\r", b"\r\n", content)
    stuffed = re.sub(rb"(?m)^\.", b"..", lines)
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"


@pytest.mark.parametrize(
    "content",
    [
        b"Subject: x\n\nisi\n",
        b"Subject: x\n\n.baris bertitik\n.\n..dua\nakhir tanpa baris baru",
        b".di awal\n",
        b"campur\r\nbaris\rlama\n.titik setelah CR\r.dan ini\r\n",
        b"sudah CRLF\r\n.\r\n",
        b"",
    ],
)
def test_content_is_crlf_lines_with_leading_dots_doubled(content: bytes) -> None:
    assert crlf_stuffed(content) == by_the_rules(content)
