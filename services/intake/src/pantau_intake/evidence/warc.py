"""The HTTP exchanges of a capture as one WARC file (ISO 28500, written with warcio).

Each exchange is a request record and a response record sharing the target URI, the server's
IP address and the date; warcio adds the block and payload digests. The fetcher decodes chunked
transfer coding, so a `Transfer-Encoding` header is kept as `X-Archive-Orig-Transfer-Encoding`
(the Wayback convention) and the body's own length is given: replay tools then read the payload
as stored.
"""

from collections.abc import Sequence
from io import BytesIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import BufferWARCWriter

from pantau_shared.fetching import Exchange

WARC_MEDIA_TYPE = "application/warc"


def _request_line(exchange: Exchange) -> str:
    parts = urlsplit(exchange.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{exchange.method} {path} {exchange.http_version}"


def _response_headers(exchange: Exchange) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for name, value in exchange.response_headers:
        lowered = name.lower()
        if lowered == "transfer-encoding":
            headers.append(("X-Archive-Orig-Transfer-Encoding", value))
        elif lowered != "content-length":
            headers.append((name, value))
    headers.append(("Content-Length", str(len(exchange.body))))
    return headers


def warc_of(exchanges: Sequence[Exchange], software: str = "Pantau evidence") -> bytes:
    writer = BufferWARCWriter(gzip=False, warc_version="1.1")
    writer.write_record(
        writer.create_warcinfo_record("pantau.warc", {"software": software, "format": "WARC 1.1"})
    )
    for exchange in exchanges:
        common = {"WARC-Date": exchange.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if exchange.ip:
            common["WARC-IP-Address"] = exchange.ip
        host = urlsplit(exchange.url).netloc
        request_headers = StatusAndHeaders(
            _request_line(exchange),
            [("Host", host), *exchange.request_headers],
            is_http_request=True,
        )
        request = writer.create_warc_record(
            exchange.url,
            "request",
            payload=BytesIO(b""),
            length=0,
            http_headers=request_headers,
            warc_headers_dict=dict(common),
        )
        response_headers = StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(),
            _response_headers(exchange),
            protocol=exchange.http_version,
        )
        response = writer.create_warc_record(
            exchange.url,
            "response",
            payload=BytesIO(exchange.body),
            length=len(exchange.body),
            http_headers=response_headers,
            warc_headers_dict=dict(common),
        )
        # The request names the response it belongs to, as crawlers write them.
        request.rec_headers.add_header(
            "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
        )
        for record in (response, request):
            writer.write_record(record)
    contents = bytes(writer.get_contents())
    # The writer's buffer is a temporary file: closed here, not left to the garbage collector.
    writer.out.close()
    return contents
