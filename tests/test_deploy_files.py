"""The production files of deploy/ and docs/deploy.md hold: nginx accepts the
config (`nginx -t`), systemd accepts the units (`systemd-analyze verify`), and
every `smmpanel` command and option they use exists."""

from __future__ import annotations

import datetime
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.main import get_command

from smmpanel.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "smmpanel.conf"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
DOC = ROOT / "docs" / "deploy.md"
INSTALLED = "/opt/smmpanel/bin/smmpanel"  # where docs/deploy.md installs it


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "panel.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not nginx:
        pytest.skip("no nginx (./dev test installs Debian's nginx-light; SMMPANEL_TEST_NGINX=skip)")
    # The certificates are the one thing of the machine nginx -t opens: a
    # throwaway pair stands in for Let's Encrypt's.
    cert, key = self_signed(tmp_path)
    text = NGINX_CONF.read_text()
    assert "/etc/letsencrypt/live/panel.example.com/fullchain.pem" in text
    text = text.replace("/etc/letsencrypt/live/panel.example.com/fullchain.pem", str(cert))
    text = text.replace("/etc/letsencrypt/live/panel.example.com/privkey.pem", str(key))
    (tmp_path / "smmpanel.conf").write_text(text)
    # The smallest main config around it, as Debian's nginx.conf includes a site.
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/access.log;\n"
        f"    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    include {tmp_path}/smmpanel.conf;\n"
        "}\n"
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr
    assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr


def test_nginx_keeps_metrics_and_health_for_loopback() -> None:
    text = NGINX_CONF.read_text()
    for path in ("/metrics", "/healthz"):
        block = text.split(f"location = {path} {{", 1)[1].split("}", 1)[0]
        rules = [
            line.strip() for line in block.splitlines() if line.strip()[:5] in ("allow", "deny ")
        ]
        assert rules == ["allow 127.0.0.1;", "allow ::1;", "deny all;"], (path, rules)
    # X-Forwarded-For is set to the peer, never appended to what the client sent.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text


@pytest.mark.skipif(not Path("/usr/bin/systemd-analyze").exists(), reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # ExecStart must name an executable that exists: this venv's smmpanel
    # stands in for the one docs/deploy.md installs in /opt/smmpanel.
    smmpanel = Path(sys.executable).with_name("smmpanel")
    assert smmpanel.exists()
    copies = []
    for unit in UNITS:
        text = unit.read_text()
        assert f"ExecStart={INSTALLED} " in text, unit.name
        copy = tmp_path / unit.name
        copy.write_text(text.replace(INSTALLED, str(smmpanel)))
        copies.append(str(copy))
    done = subprocess.run(
        ["/usr/bin/systemd-analyze", "verify", "--man=no", *copies],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in done.stderr.splitlines() if "smmpanel" in line]
    assert done.returncode == 0 and ours == [], done.stderr
    assert {Path(c).name for c in copies} == {"smmpanel-api.service", "smmpanel-worker.service"}


def commands_used() -> list[list[str]]:
    """Every `smmpanel ...` command line of the units and of the doc's code blocks."""
    lines = []
    for unit in UNITS:
        lines += [
            line.split("=", 1)[1]
            for line in unit.read_text().splitlines()
            if line.startswith("Exec")
        ]
    blocks = re.findall(r"```(?:sh|ini|nginx)?\n(.*?)```", DOC.read_text(), flags=re.S)
    for block in blocks:
        lines += block.replace("\\\n", " ").splitlines()
    found = []
    for line in lines:
        line = line.split(" #", 1)[0]
        for part in re.split(r"&&|\|\||;|\|", line):
            words = shlex.split(part)
            for index, word in enumerate(words):
                if word == INSTALLED or (index == 0 and word == "smmpanel"):
                    found.append(words[index + 1 :])
                    break
    return found


def test_every_smmpanel_command_and_option_in_the_docs_and_units_exists() -> None:
    root: Any = get_command(app)
    used = commands_used()
    assert len(used) >= 8  # serve, worker, db upgrade, ...: the parse found them
    for words in used:
        command = root
        # The global options (--database-url) stay valid below the root.
        params = {opt: param for param in root.params for opt in param.opts}
        value_next = False
        for word in words:
            if value_next:
                value_next = False
            elif word.startswith("-"):
                params |= {opt: param for param in command.params for opt in param.opts}
                name = word.split("=", 1)[0]
                assert name in params, (words, name)
                value_next = "=" not in word and not getattr(params[name], "is_flag", False)
            elif hasattr(command, "commands"):
                assert word in command.commands, (words, word)
                command = command.commands[word]
        assert not hasattr(command, "commands"), f"`smmpanel {' '.join(words)}` is a group"
