"""Accepts OTLP/HTTP exports (POST /v1/traces, /v1/metrics, /v1/logs) and logs one line each."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        print(f"otlp {self.path} {length} bytes", flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    print(f"otlp sink on :4318 (arguments ignored: {' '.join(sys.argv[1:])})", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 4318), Sink).serve_forever()
