"""The model file as a container: a zip archive of members, its manifest
(format, versions, each member's SHA-256) and the seal that ends it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import skimb

FORMAT = "skimb-model"
# 2: skimb's networks standardise with its own layer (skimb._layers.Standardize),
# which an older skimb cannot build; files of format 1 (Keras' Normalization)
# still load.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
ESTIMATOR = "estimator.json"
# Start of the zip comment that ends every model file; a SHA-256 follows.
SEAL = b"skimb-sha256:"


class ModelFileError(ValueError):
    """A model file cannot be written or read: the message says why."""


def archive(manifest: dict, members: dict[str, bytes]) -> bytes:
    """The zip file, sealed with the SHA-256 of all its bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
        for name, data in members.items():
            # Compressed even though .keras files are zip archives: stored as
            # they are, a truncated model file would end in the network's own
            # zip directory and read as a valid, if foreign, zip file.
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        archive.comment = SEAL + b"0" * 64
    return seal(buffer.getvalue())


def seal(data: bytes) -> bytes:
    # The zip comment ends the file; it holds the digest of everything before
    # its last 64 bytes, so that a change to any byte (of the members, their
    # headers or the zip directory) is detected, not only to the members.
    return data[:-64] + hashlib.sha256(data[:-64]).hexdigest().encode("ascii")


def check_seal(data: bytes, path: Path) -> None:
    if data[-64 - len(SEAL) : -64] != SEAL:
        raise ModelFileError(
            f"{str(path)!r} is not a skimb model file, or it is truncated or "
            "damaged (its end is missing)."
        )
    if seal(data) != data:
        raise ModelFileError(
            f"{str(path)!r} has been altered or damaged: its checksum does not "
            "match its content."
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(archive: zipfile.ZipFile, path: Path) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise ModelFileError(
            f"{str(path)!r} is not a skimb model file, or it is truncated or "
            f"damaged (it has no {MANIFEST})."
        ) from None
    except ValueError as error:
        raise ModelFileError(
            f"{str(path)!r} has an unreadable manifest ({error})."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is not a skimb model file.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or not isinstance(manifest.get("sha256"), dict):
        raise ModelFileError(f"{str(path)!r} has a damaged manifest.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by skimb "
            f"{manifest.get('skimb_version', '?')} in model-file format {version}; "
            f"this skimb ({skimb.__version__}) reads formats up to "
            f"{FORMAT_VERSION}. Upgrade skimb to load it."
        )
    return manifest
