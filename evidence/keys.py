"""The package signing key: one Ed25519 key per installation, under ``data/keys/``.

``signing-ed25519.pem`` (PKCS#8, unencrypted, mode 0600 in a 0700 folder) is created on first
use. Its public key goes into every manifest; its fingerprint (SHA-256 of the raw public key)
is printed in the 提取笔录 so a recipient can check a package against paper. Keys of other
installations whose packages this one accepts go in ``data/keys/trusted/`` as ``*.pub`` files
holding a fingerprint, a base64 raw key or a PEM public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "signing-ed25519.pem"
TRUSTED_DIR = "trusted"


class SigningKeyError(RuntimeError):
    """The key file cannot be read or created; the message says why."""


def keys_dir(data: Path) -> Path:
    """The keys folder inside the data folder."""
    return Path(data) / "keys"


def fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the raw public key, 64 hex digits (the form verify.py compares)."""
    return hashlib.sha256(public_raw).hexdigest()


def grouped(fp: str) -> str:
    """A fingerprint in groups of four for reading aloud and comparing on paper."""
    return " ".join(fp[i:i + 4] for i in range(0, len(fp), 4))


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a key's public half."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_or_create(data: Path) -> Ed25519PrivateKey:
    """The installation's signing key, created (0600) on first use."""
    folder = keys_dir(data)
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            # O_EXCL: two exports starting at once must not each write a different key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create(data)
        except OSError as e:
            raise SigningKeyError(f"cannot create the signing key {path}: {e.strerror}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # A private key others can read signs nothing anyone should trust; close it at once.
        os.chmod(path, 0o600)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise SigningKeyError(f"cannot read the signing key {path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Base64 Ed25519 signature of ``message``."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def trusted_fingerprints(data: Path, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Fingerprints whose packages verify: this installation's key (if it exists), the keys in
    ``data/keys/trusted/``, and ``extra`` (fingerprints or key files)."""
    folder = keys_dir(data)
    out: list[str] = []
    own = folder / KEY_FILE
    if own.exists():
        out.append(fingerprint(public_raw(load_or_create(data))))
    trusted = folder / TRUSTED_DIR
    sources = sorted(trusted.glob("*.pub")) if trusted.is_dir() else []
    for source in list(sources) + list(extra):
        out.append(_fingerprint_of(source))
    return out


def _fingerprint_of(source) -> str:
    """A fingerprint from a fingerprint string or a file holding a fingerprint, raw key or PEM."""
    text = str(source)
    path = Path(text)
    if path.is_file():
        text = path.read_text(encoding="utf-8", errors="replace")
    text = text.strip()
    if "BEGIN PUBLIC KEY" in text:
        return fingerprint(public_raw(serialization.load_pem_public_key(text.encode())))
    compact = text.replace(" ", "").replace(":", "").lower()
    if len(compact) == 64 and all(c in "0123456789abcdef" for c in compact):
        return compact
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) == 32:
        return fingerprint(raw)
    raise SigningKeyError(f"not a key fingerprint, base64 Ed25519 key or PEM public key: {str(source)[:80]!r}")
