"""TLS: verification on by default, a CA bundle path works, turning it off needs an explicit extra."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from urllib3.exceptions import InsecureRequestWarning

from airflow_provider_canvas.hooks.canvas import CanvasHook


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _SelfHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"id": 7, "name": "TLS Admin"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def https_canvas(tmp_path):
    cert_path, key_path = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SelfHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert_path
    server.shutdown()
    server.server_close()
    thread.join(5)


def _hook(monkeypatch, host, **extra):
    conn = {
        "conn_type": "canvas",
        "host": host,
        "password": "tls-token-abcdef",
        "extra": {"timeout": 5, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", json.dumps(conn))
    return CanvasHook()


def test_untrusted_certificate_fails_clearly_and_is_not_retried(https_canvas, monkeypatch):
    url, _ = https_canvas
    ok, message = _hook(monkeypatch, url).test_connection()
    assert not ok
    assert "TLS verification failed for 127.0.0.1" in message
    assert "'CA bundle path' (extra ca_bundle)" in message
    assert "tls-token-abcdef" not in message


def test_ca_bundle_field_is_trusted(https_canvas, monkeypatch):
    url, cert_path = https_canvas
    ok, message = _hook(monkeypatch, url, ca_bundle=str(cert_path), verify="true").test_connection()
    assert ok, message


def test_ca_bundle_path_is_trusted(https_canvas, monkeypatch):
    url, cert_path = https_canvas
    ok, message = _hook(monkeypatch, url, verify=str(cert_path)).test_connection()
    assert ok, message
    assert "as TLS Admin (user id 7)" in message


def test_verify_false_works_but_warns(https_canvas, monkeypatch, captured_logs):
    url, _ = https_canvas
    with pytest.warns(InsecureRequestWarning):  # urllib3's own per-request warning stays visible too
        ok, _ = _hook(monkeypatch, url, verify=False).test_connection()
    assert ok
    assert any("verification is OFF" in m for m in captured_logs.messages("warning"))


@pytest.fixture
def plain_http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SelfHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"  # https:// on a port that speaks plain http
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_https_to_a_plain_http_port_says_the_server_did_not_answer_tls(plain_http_server, monkeypatch):
    ok, message = _hook(monkeypatch, plain_http_server, max_retries=2).test_connection()
    assert not ok
    assert "did not answer TLS" in message and "scheme or the port wrong" in message
    assert "certificate authority" not in message  # not a trust problem: no point fetching a CA bundle


def test_the_async_hook_says_the_same(plain_http_server, monkeypatch):
    import asyncio

    from airflow_provider_canvas.exceptions import CanvasConnectionError
    from airflow_provider_canvas.hooks.canvas_async import CanvasAsyncHook

    _hook(monkeypatch, plain_http_server, max_retries=2)
    with pytest.raises(CanvasConnectionError, match="did not answer TLS") as info:
        asyncio.run(CanvasAsyncHook().alist_communication_channels("self"))
    assert info.value.attempts == 1  # a configuration problem: not retried


def test_an_untrusted_certificate_in_the_async_hook_names_the_verify_extra(https_canvas, monkeypatch):
    import asyncio

    from airflow_provider_canvas.exceptions import CanvasConnectionError
    from airflow_provider_canvas.hooks.canvas_async import CanvasAsyncHook

    url, _ = https_canvas
    _hook(monkeypatch, url)
    with pytest.raises(
        CanvasConnectionError, match=r"TLS verification failed for 127\.0\.0\.1.*extra ca_bundle"
    ):
        asyncio.run(CanvasAsyncHook().alist_communication_channels("self"))
