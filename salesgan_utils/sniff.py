"""What a file is, judged by its bytes before any parser sees it, and streaming content hashes.

A table is diagnosed by what it holds, not by its name: a folder or a broken link under a table's name, gzip or zip
content behind a `.csv` name (or plain text behind `.csv.gz`), a gzip inside a gzip, UTF-16 text, NUL bytes in a
plain CSV. `describe_file` (from the first bytes) and `describe_content` (from the decompressed content) return
that diagnosis as a sentence with the fix, None when the file looks like the text CSV its name promises; the
callers (`paths`, `olist`) raise it as their own error. `sha256_file` hashes a file in blocks, so a multi-GB
artifact costs one read and a few MB of memory.

Only the standard library: `paths` imports this module.
"""
from __future__ import annotations

import codecs
import hashlib
import os
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
BLOCK = 1 << 20  # bytes per read: hashing and the NUL scan hold one block at a time


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in blocks (memory does not grow with the file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def link_problem(path: str | Path) -> str | None:
    """A folder, a broken symbolic link or a non-regular file where a file should be; else None."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        return (f"{path} is a symbolic link to {os.readlink(path)}, which does not exist: fix the link (ln -sfn "
                f"TARGET {path}) or put the file itself there")
    if path.is_dir():
        return (f"{path} is a folder, not a file (an archive unpacked into a folder of the file's name?): put the "
                f"CSV file itself at that path")
    if path.exists() and not path.is_file():
        return f"{path} is not a regular file (a device, socket or pipe): put the CSV file itself at that path"
    return None


def _looks_utf16(head: bytes) -> bool:
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return True
    sample = head[:512]
    # ASCII text in UTF-16 has a NUL in every other byte
    return len(sample) >= 8 and (sample[1::2].count(0) > 0.8 * len(sample[1::2])
                                 or sample[0::2].count(0) > 0.8 * len(sample[0::2]))


def describe_file(path: str | Path) -> str | None:
    """Why `path` is not the text CSV (`.csv`) or gzip file (`.csv.gz`) its name says, judged by its first bytes
    (a folder, a broken link, zip content, gzip content behind `.csv`, plain content behind `.gz`); else None."""
    path = Path(path)
    problem = link_problem(path)
    if problem:
        return problem
    with open(path, "rb") as handle:
        magic = handle.read(8)
    named_gz = path.name.lower().endswith(".gz")
    if magic.startswith(ZIP_MAGICS):
        return (f"{path} is a zip archive, not a {'gzip file' if named_gz else 'CSV'}: unzip it (unzip {path.name}) "
                f"and put the CSV files it holds in the data folder")
    if magic.startswith(GZIP_MAGIC) and not named_gz:
        return (f"{path} is gzip-compressed but named .csv: rename it to {path.name}.gz (or decompress it with "
                f"gunzip -S .csv -c) and rerun")
    if named_gz and not magic.startswith(GZIP_MAGIC):
        plain = path.name[:-3]
        return (f"{path} is named .gz but is not gzip-compressed (it starts with {magic[:4]!r}): rename it to "
                f"{plain} (mv {path.name} {plain}) and rerun")
    return None


def describe_content(path: str | Path, content: bytes) -> str | None:
    """Why the (decompressed) `content` of `path` is not UTF-8 CSV text at byte level: a second gzip or a zip
    inside the gzip, UTF-16 text, NUL bytes (a damaged copy whose rows after the first NUL would be lost); else
    None. One `bytes.count` over the content: about the speed of memory."""
    path = Path(path)
    named_gz = path.name.lower().endswith(".gz")
    if named_gz and content.startswith(GZIP_MAGIC):
        return (f"{path} is gzip-compressed twice: decompress it once (gzip -dc {path.name} > tmp.gz && mv tmp.gz "
                f"{path.name}) and rerun")
    if content.startswith(ZIP_MAGICS):
        return (f"{path} holds a zip archive{' inside the gzip' if named_gz else ''}: unpack it and put the CSV "
                f"files it holds in the data folder")
    if _looks_utf16(content[:4096]):
        return (f"{path} is not UTF-8 text (UTF-16, Excel's \"Unicode text\": NUL bytes between the characters): "
                f"save it as UTF-8 (Excel: \"CSV UTF-8\"; or iconv -f utf-16 -t utf-8) and rerun")
    nul_count = content.count(0)
    if nul_count:
        return (f"{path} holds {nul_count:,} NUL byte(s) (the first at byte {content.index(0):,} of "
                f"{len(content):,}{' uncompressed' if named_gz else ''}): the file is damaged (a copy cut short and "
                f"padded with zeros?) and rows after that point would be lost. Re-download it from "
                f"olistbr/brazilian-ecommerce")
    return None
