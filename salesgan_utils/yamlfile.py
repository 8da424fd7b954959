"""Reading a small YAML file safely: one-line errors for what the path is (a folder, a broken link, too large),
for OS errors and encodings, and a loader that refuses repeated keys and aliases.

An alias (`*name`) lets a 2 KB file expand to gigabytes (a "billion laughs" bomb) and a parameter file never needs
one; a repeated key is kept last by plain YAML, silently. Every error is a `YamlFileError` (a `ValueError`) naming
the file and the fix; `params` raises it as its own `ParamsError`.

Only the standard library at import (PyYAML inside the loader factory): `params` runs before set-up.
"""
from __future__ import annotations

import os
from pathlib import Path


class YamlFileError(ValueError):
    """A YAML file that cannot be read as a parameter mapping; the message names it and the fix."""


MAX_PROFILE_BYTES = 1 << 20  # a profile is a short mapping; a larger file is not one


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be a profile file (a folder, a broken link, not a regular file, too large), else None."""
    if path.is_symlink() and not path.exists():
        return f"params file {path} is a symbolic link to {os.readlink(path)}, which does not exist: fix the link"
    if path.is_dir():
        return f"params file {path} is a folder, not a YAML file: pass a file such as {path / 'my_profile.yaml'}"
    if path.exists() and not path.is_file():
        return f"params file {path} is not a regular file (a device, socket or pipe): pass a YAML file"
    if path.is_file() and path.stat().st_size > MAX_PROFILE_BYTES:
        return (f"params file {path} is {path.stat().st_size:,} bytes: a profile is a short YAML mapping of "
                f"parameter names (under {MAX_PROFILE_BYTES:,} bytes); pass the right file")
    return None


def unique_key_loader(path: Path | str):
    """A yaml SafeLoader that refuses a key repeated in one mapping (plain YAML keeps the last one silently) and
    any alias (`*name`): aliases let a 2 KB file expand to gigabytes (a "billion laughs" bomb), and a profile
    never needs them."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise YamlFileError(f"{path}: line {event.start_mark.line + 1} uses the YAML alias "
                                  f"*{bounded(event.anchor)}: aliases are refused (one can expand to gigabytes); "
                                  f"write the value out")
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise YamlFileError(f"{path}: key `{bounded(key)}` appears twice (lines {seen[key]} and "
                                      f"{key_node.start_mark.line + 1}); YAML would silently keep the last one: "
                                      f"delete one of them")
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def bounded(value, limit: int = 80) -> str:
    """`str(value)` cut to `limit` characters for a message (a pasted blob must not fill the screen)."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}…[+{len(text) - limit:,} chars]"


def read_text(path: Path) -> str:
    """The text of a profile file, read with one-line errors for OS errors and encodings.

    Raises:
        YamlFileError: the file cannot be read, or is not UTF-8 text.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise YamlFileError(f"params file {path} cannot be read ({type(error).__name__}: {error.strerror or error}): "
                          f"check that it exists and that you may read it") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise YamlFileError(f"params file {path} is not UTF-8 text (byte {raw[error.start:error.start + 1]!r} at byte "
                          f"{error.start}{': UTF-16' if utf16 else ''}): save it as UTF-8 (or iconv -f "
                          f"{'utf-16' if utf16 else 'latin1'} -t utf-8) and rerun") from None


