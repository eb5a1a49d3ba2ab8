"""`pantau-evidence` as a lawyer runs it: the installed console script, in an empty directory."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from pantau_devstack.tsa import TsaIdentity
from pantau_shared.bundle_keys import load_signing_key, public_key_from_text, public_key_pem, raw_public_key
from pantau_shared.bundles import BundleVerdict
from pantau_shared.contract.evidence_bundle import BundleManifest
from tests.unit.shared.evidence_fixtures import REPORT, bundle, evidence

SCRIPT = Path(sys.executable).with_name("pantau-evidence")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH, no network settings, no repository on the path: only the installed package.
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ed25519PrivateKey]:
    directory = tmp_path_factory.mktemp("bundle")
    key, identity = Ed25519PrivateKey.generate(), TsaIdentity.generate()
    (directory / "kasus.zip").write_bytes(bundle(identity, key, evidence(identity)))
    (directory / "tsa-root.pem").write_bytes(identity.root.public_bytes(Encoding.PEM))
    (directory / "other-root.pem").write_bytes(TsaIdentity.generate().root.public_bytes(Encoding.PEM))
    return directory, key


def test_an_intact_bundle_says_bukti_utuh_and_exits_0(signed: tuple[Path, Ed25519PrivateKey]) -> None:
    directory, key = signed
    result = run("verify", "kasus.zip", "--public-key", raw_public_key(key).hex(), cwd=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BUKTI UTUH" in result.stdout
    assert "[GAGAL]" not in result.stdout
    assert "Perkara: 2152F563-4A5B" in result.stdout
    assert "  evidence/page.warc (application/warc, " in result.stdout
    assert "    sumber: https://www.facebook.com/posts/page.warc" in result.stdout
    # The two stamped files, not the voice note.
    assert result.stdout.count("ada paling lambat (cap waktu TSA, terverifikasi): ") == 2
    assert "Riwayat kustodi perkara (6 entri, terverifikasi):" in result.stdout
    assert "1. 11-02-2024 15:00:00 WIB (2024-02-11 08:00:00 UTC) diamankan oleh intake" in result.stdout
    assert "Kepala rantai kustodi perkara: " in result.stdout
    assert f"Kepala rantai custody/{REPORT}.jsonl: " in result.stdout
    assert "Akar TSA tepercaya, dari bundel" in result.stdout
    assert "PERHATIAN" not in result.stdout


def test_the_tsas_published_root_can_replace_the_bundles(signed: tuple[Path, Ed25519PrivateKey]) -> None:
    directory, _ = signed
    published = run("verify", "kasus.zip", "--tsa-root", "tsa-root.pem", cwd=directory)
    assert published.returncode == 0 and "Akar TSA tepercaya, yang diberikan" in published.stdout
    other = run("verify", "kasus.zip", "--tsa-root", "other-root.pem", cwd=directory)
    assert other.returncode == 1
    assert "[GAGAL] cap waktu evidence/page.warc: " in other.stdout and "akar TSA" in other.stdout


def test_json_output_carries_the_same_verdict(signed: tuple[Path, Ed25519PrivateKey]) -> None:
    directory, _ = signed
    result = run("verify", "kasus.zip", "--json", cwd=directory)
    assert result.returncode == 0
    verdict = BundleVerdict.model_validate_json(result.stdout)
    assert verdict.ok and verdict.manifest is not None and len(verdict.custody) == 6


def test_without_a_key_it_warns_and_prints_the_fingerprint(signed: tuple[Path, Ed25519PrivateKey]) -> None:
    directory, _ = signed
    result = run("verify", "kasus.zip", cwd=directory)
    assert result.returncode == 0
    assert "PERHATIAN: kunci publik diambil dari bundel itu sendiri" in result.stdout
    assert "Sidik jari kunci penanda tangan" in result.stdout


def test_a_changed_byte_says_bukti_tidak_utuh_and_exits_1(signed: tuple[Path, Ed25519PrivateKey]) -> None:
    directory, key = signed
    data = bytearray((directory / "kasus.zip").read_bytes())
    data[data.index(b"<p>hoaks</p>") + 4] ^= 0x01
    (directory / "diubah.zip").write_bytes(bytes(data))
    result = run("verify", "diubah.zip", "--public-key", raw_public_key(key).hex(), cwd=directory)
    assert result.returncode == 1
    assert "BUKTI TIDAK UTUH" in result.stdout
    assert "[GAGAL] berkas evidence/page.warc" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_garbage_is_not_intact_and_never_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "sampah.zip").write_bytes(b"PK\x05\x06" + b"\xff" * 40)
    result = run("verify", "sampah.zip", cwd=tmp_path)
    assert result.returncode == 1
    assert "BUKTI TIDAK UTUH" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_usage_errors_exit_2_in_indonesian(tmp_path: Path) -> None:
    missing = run("verify", "tidak-ada.zip", cwd=tmp_path)
    assert missing.returncode == 2 and "tidak dapat dibuka" in missing.stderr
    bad_key = run("verify", "tidak-ada.zip", "--public-key", "bukan-kunci", cwd=tmp_path)
    assert bad_key.returncode == 2 and "Kunci publik tidak dapat dibaca" in bad_key.stderr


def test_keygen_writes_a_private_key_only_its_owner_reads_and_a_public_key_verify_takes(
    tmp_path: Path, signed: tuple[Path, Ed25519PrivateKey]
) -> None:
    result = run("keygen", "bawaslu.key", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    private, public = tmp_path / "bawaslu.key", tmp_path / "bawaslu.key.pub"
    assert private.stat().st_mode & 0o077 == 0
    key = load_signing_key(private.read_bytes())
    assert public_key_from_text(public.read_text()) == raw_public_key(key)
    assert raw_public_key(key).hex() in result.stdout
    assert run("keygen", "bawaslu.key", cwd=tmp_path).returncode == 2  # never overwrites a key
    # The public key file is what verify takes; a bundle signed by another key then fails.
    directory, _ = signed
    other = run("verify", str(directory / "kasus.zip"), "--public-key", str(public), cwd=tmp_path)
    assert other.returncode == 1
    assert "[GAGAL] kunci penanda tangan" in other.stdout


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("openssl")
    assert binary is not None, "OpenSSL is on the test machine (docs/evidence-bundles.md relies on it)"
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)


def test_the_documented_openssl_steps_verify_a_bundle_without_pantau(
    tmp_path: Path, signed: tuple[Path, Ed25519PrivateKey]
) -> None:
    directory, key = signed
    with zipfile.ZipFile(directory / "kasus.zip") as archive:
        archive.extractall(tmp_path)
        manifest = BundleManifest.model_validate_json(archive.read("manifest.json"))
    (tmp_path / "agency.pub").write_bytes(public_key_pem(raw_public_key(key)))
    pkey = ("pkeyutl", "-verify", "-pubin", "-inkey", "agency.pub", "-rawin", "-in", "manifest.json")
    signature = openssl(*pkey, "-sigfile", "manifest.sig", cwd=tmp_path)
    assert signature.returncode == 0 and "Signature Verified Successfully" in signature.stdout
    stamped = [file.timestamp and (file.sha256, file.timestamp.path) for file in manifest.files]
    for digest, token in filter(None, stamped):
        verified = openssl(
            "ts", "-verify", "-digest", digest, "-in", token, "-CAfile", "tsa-roots.pem", cwd=tmp_path
        )
        assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified.stderr
        other = openssl(
            "ts", "-verify", "-digest", "0" * 64, "-in", token, "-CAfile", "tsa-roots.pem", cwd=tmp_path
        )
        assert other.returncode != 0
    assert len(list(filter(None, stamped))) == 2
