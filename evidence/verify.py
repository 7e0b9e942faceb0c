#!/usr/bin/env python3
"""校验 reprowatch 证据包 — verify a reprowatch evidence package with any Python 3.8+.

This file needs the Python standard library only. ``reprowatch export`` copies it into every
package as ``verify.py``; ``reprowatch verify`` runs this same code, so both give one result.

Usage::

    python verify.py                      # the extracted package this script sits in
    python verify.py PACKAGE.zip          # a package still zipped
    python verify.py DIR                  # an extracted package elsewhere
    python verify.py --fingerprint HEX    # the signing key's fingerprint from the paper 提取笔录

Exit status: 0 every file and the signature match; 1 a file is missing, extra or altered, or
the signature is wrong or by another key; 2 the path is not an evidence package.

What is checked:

- every file named in ``manifest.json`` is present and its SHA-256 and size match;
- no file is present that the manifest does not name (``__pycache__`` folders aside);
- the Ed25519 signature in ``manifest.json`` over the canonical manifest: the manifest
  without its ``signature`` member, serialised as JSON with sorted keys, separators ``,``
  and ``:``, non-ASCII characters kept, UTF-8 encoded. It is checked with the
  ``cryptography`` package when installed, else with the RFC 8032 reference arithmetic below;
- that the signing key is the issuer's: its SHA-256 fingerprint must equal the one given
  with ``--fingerprint`` (compare it with the fingerprint printed on the paper record), else
  the one this script was issued with (``ISSUER_FINGERPRINT``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import zipfile
import zlib

# Set by `reprowatch export` to the fingerprint of the key that signed the package.
ISSUER_FINGERPRINT = ""

MANIFEST = "manifest.json"
_CHUNK = 1 << 20
_IGNORED_DIRS = {"__pycache__"}


class NotAPackage(Exception):
    """The path is not an evidence package (not a ZIP or folder, or no readable manifest)."""


# -- Ed25519 verification (RFC 8032, section 6: the reference code, verify only) ----------

_P = 2 ** 255 - 19
_Q = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _add(a, b):
    pa = (a[1] - a[0]) * (b[1] - b[0]) % _P
    pb = (a[1] + a[0]) * (b[1] + b[0]) % _P
    pc = 2 * a[3] * b[3] * _D % _P
    pd = 2 * a[2] * b[2] % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f, g * h, f * g, e * h)


def _mul(s, point):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, point)
        point = _add(point, point)
        s >>= 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def _ed25519_reference(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


def ed25519_verify(public, message, signature):
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public`` (raw bytes)."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return _ed25519_reference(public, message, signature)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# -- the package ------------------------------------------------------------------------

def canonical_manifest(manifest):
    """The bytes that are signed: the manifest without ``signature``, canonical JSON, UTF-8."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_fingerprint(public):
    """SHA-256 of the raw 32-byte public key, as 64 hex digits."""
    return hashlib.sha256(public).hexdigest()


class _Zip:
    def __init__(self, path):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise NotAPackage("%s: not a ZIP file (%s)" % (path, e))

    def names(self):
        return [n for n in self.zf.namelist() if not n.endswith("/")]

    def read_manifest(self):
        return self.zf.read(MANIFEST)

    def digest(self, name):
        h, size = hashlib.sha256(), 0
        with self.zf.open(name) as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size

    def close(self):
        self.zf.close()


class _Folder:
    def __init__(self, path):
        self.root = path

    def names(self):
        out = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if d not in _IGNORED_DIRS]
            for f in files:
                rel = os.path.relpath(os.path.join(folder, f), self.root)
                out.append(rel.replace(os.sep, "/"))
        return out

    def read_manifest(self):
        with open(os.path.join(self.root, MANIFEST), "rb") as fh:
            return fh.read()

    def digest(self, name):
        h, size = hashlib.sha256(), 0
        with open(os.path.join(self.root, *name.split("/")), "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size

    def close(self):
        pass


def _open(path):
    if os.path.isdir(path):
        return _Folder(path)
    if os.path.isfile(path):
        return _Zip(path)
    raise NotAPackage("%s: no such file or folder" % path)


def _safe(name):
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "\\" not in name


def check(path, fingerprints=None):
    """Check the package at ``path`` (ZIP or folder); returns a report dict.

    ``fingerprints``: the signing-key fingerprints to accept (None: accept only
    ``ISSUER_FINGERPRINT``, or any key when that is empty too). Raises NotAPackage.
    """
    pkg = _open(path)
    try:
        try:
            raw = pkg.read_manifest()
        except (KeyError, OSError):
            raise NotAPackage("%s: no %s, so not an evidence package" % (path, MANIFEST))
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise NotAPackage("%s: %s unreadable: %s" % (path, MANIFEST, e))
        try:
            manifest = json.loads(raw.decode("utf-8"))
            files = manifest["files"]
            listed = {f["path"]: f for f in files}
            if not all(isinstance(f["sha256"], str) and isinstance(f["size"], int) for f in files):
                raise ValueError("bad file entry")
        except (ValueError, KeyError, TypeError) as e:
            raise NotAPackage("%s: %s is not an evidence manifest (%s)" % (path, MANIFEST, e))

        present = set(pkg.names())
        report = {"package": str(path), "package_id": manifest.get("package_id"), "checked": 0,
                  "missing": [], "extra": [], "altered": [], "signature": None}
        for name in sorted(present - set(listed) - {MANIFEST}):
            report["extra"].append(name)
        for name in sorted(listed):
            entry = listed[name]
            if not _safe(name) or name == MANIFEST:
                report["altered"].append({"path": name, "reason": "unsafe or reserved path in manifest"})
                continue
            if name not in present:
                report["missing"].append(name)
                continue
            try:
                digest, size = pkg.digest(name)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                report["altered"].append({"path": name, "reason": "unreadable: %s" % e})
                continue
            report["checked"] += 1
            if digest != entry["sha256"] or size != entry["size"]:
                report["altered"].append({"path": name, "reason": "sha256 %s size %d, manifest says sha256 %s size %d"
                                          % (digest, size, entry["sha256"], entry["size"])})
        report["signature"] = _check_signature(manifest, fingerprints)
    finally:
        pkg.close()
    report["ok"] = not (report["missing"] or report["extra"] or report["altered"]) and report["signature"]["ok"]
    return report


def _check_signature(manifest, fingerprints):
    sig = manifest.get("signature") or {}
    key = manifest.get("public_key") or {}
    out = {"ok": False, "fingerprint": None, "error": None}
    try:
        public = base64.b64decode(key["key"], validate=True)
        value = base64.b64decode(sig["value"], validate=True)
    except (KeyError, TypeError, ValueError):
        out["error"] = "manifest has no readable public key or signature"
        return out
    if sig.get("algorithm") != "Ed25519" or key.get("algorithm") != "Ed25519":
        out["error"] = "unsupported signature algorithm %r" % sig.get("algorithm")
        return out
    out["fingerprint"] = key_fingerprint(public)
    if key.get("fingerprint") != out["fingerprint"]:
        out["error"] = "the manifest's key fingerprint does not match its key"
        return out
    if not ed25519_verify(public, canonical_manifest(manifest), value):
        out["error"] = "signature does not match the manifest (manifest altered after signing)"
        return out
    accepted = fingerprints
    if accepted is None:
        accepted = [ISSUER_FINGERPRINT] if ISSUER_FINGERPRINT else None
    if accepted is not None:
        accepted = [f.replace(" ", "").replace(":", "").lower() for f in accepted]
        if out["fingerprint"] not in accepted:
            out["error"] = ("signed by key %s, which is not the issuer's key (%s)"
                            % (out["fingerprint"], ", ".join(accepted) or "none known"))
            return out
    out["ok"] = True
    return out


def summary(report):
    """The report as lines of text for a person."""
    lines = []
    if report["ok"]:
        lines.append("校验通过 OK: %d 个文件的 SHA-256 与清单一致，签名有效 (package %s)"
                     % (report["checked"], report.get("package_id")))
        lines.append("签名密钥指纹 key fingerprint: %s" % report["signature"]["fingerprint"])
        return lines
    lines.append("校验失败 FAILED: %s" % report["package"])
    for name in report["missing"]:
        lines.append("  缺失 missing: %s" % name)
    for name in report["extra"]:
        lines.append("  多余 extra:   %s" % name)
    for entry in report["altered"]:
        lines.append("  篡改 altered: %s (%s)" % (entry["path"], entry["reason"]))
    sig = report["signature"]
    if not sig["ok"]:
        lines.append("  签名 signature: %s" % sig["error"])
    lines.append("  %d 个文件一致 files matched" % (report["checked"] - len(report["altered"])))
    return lines


def main(argv=None):
    """Command line: exit 0 ok, 1 failed verification, 2 not a package."""
    import argparse

    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="校验 reprowatch 证据包 (verify an evidence package)")
    parser.add_argument("package", nargs="?", default=here, help="ZIP file or extracted folder (default: this script's folder)")
    parser.add_argument("--fingerprint", action="append", help="accepted signing-key fingerprint (hex, from the paper record)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = check(args.package, args.fingerprint)
    except NotAPackage as e:
        print("不是证据包 not an evidence package: %s" % e, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print("\n".join(summary(report)))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
