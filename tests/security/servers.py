"""Loopback servers for the outbound guard's tests: one that records every
request it gets, and an HTTPS one with a certificate from a test CA."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from smmpanel.server import serve_in_thread


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    host: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Target:
    """Answers every request with `{"orders": []}` and remembers it."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: Request) -> JSONResponse:
        self.seen.append(
            Seen(
                request.method,
                request.url.path,
                request.url.query,
                request.headers.get("host", ""),
                await request.body(),
                {k.lower(): v for k, v in request.headers.items()},
            )
        )
        return JSONResponse({"orders": []})


@contextmanager
def running_target() -> Iterator[Target]:
    target = Target()
    app = Starlette(routes=[Route("/{path:path}", target.handle, methods=["GET", "POST"])])
    with serve_in_thread(app) as url:
        target.url = url
        yield target


# --- TLS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        context.load_verify_locations(
            cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode()
        )
        return context

    def issue(self, hostname: str, directory: Path) -> tuple[Path, Path]:
        """A certificate for `hostname` signed by this CA: (cert file, key file)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(hostname, key, self.cert.subject)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = directory / f"{hostname}.pem", directory / f"{hostname}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


def make_ca() -> TestCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smmpanel test CA")])
    cert = (
        _builder("smmpanel test CA", key, name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return TestCA(key, cert)


def _builder(
    common_name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
    )


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class TlsServer:
    port: int
    server_names: list[str | None]  # the SNI of each handshake


@contextmanager
def running_tls_server(cert_file: Path, key_file: Path) -> Iterator[TlsServer]:
    """An HTTPS server on 127.0.0.1 answering `hello <Host header>`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield TlsServer(server.server_address[1], names)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
