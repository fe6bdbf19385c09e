"""An OTLP/HTTP metrics receiver for tests/cluster.rs: decodes every POST /v1/metrics with the
official OpenTelemetry protocol definitions (PyPI `opentelemetry-proto`; JSON bodies through
protobuf's json_format, binary ones through ParseFromString) and appends each request, as
protobuf's canonical JSON of ExportMetricsServiceRequest, one line to the file argv[1].
Prints the port it listens on (127.0.0.1, chosen by the system) on its first line. A body that
does not decode gets HTTP 400, as a collector answers."""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

OUT = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/metrics":
            self.send_response(404)
            self.end_headers()
            return
        req = ExportMetricsServiceRequest()
        try:
            if self.headers.get("Content-Type", "").startswith("application/json"):
                json_format.Parse(body.decode("utf-8"), req)  # unknown fields are refused
            else:
                req.ParseFromString(body)
        except Exception as e:  # noqa: BLE001 - report any decoding failure to the client
            msg = f"cannot decode ExportMetricsServiceRequest: {e}".encode()
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        with open(OUT, "a", encoding="utf-8") as f:
            f.write(json_format.MessageToJson(req, indent=None) + "\n")
        resp = json_format.MessageToJson(ExportMetricsServiceResponse()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(resp)))
        self.end_headers()
        self.wfile.write(resp)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
