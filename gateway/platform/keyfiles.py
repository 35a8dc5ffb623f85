"""Writing a newly generated private key file safely."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.platform.private_paths import private_directory


def write_new_private_file(path: Path, data: bytes) -> None:
    """Create `path` (mode 0600) holding `data`, unless it already exists.

    Written whole to a private temporary file, then linked into place: two processes
    starting at once never see a half-written key, and the first one's key wins.
    """
    private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
