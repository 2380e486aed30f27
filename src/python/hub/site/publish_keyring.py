"""The signing key of a publish: a temporary keyring recorded in DEST before it exists.

With `HUB_SIGNING_KEY`, the key is imported into a private temporary GNUPGHOME
(`$TMPDIR/hub-publish-key-<16 hex>/gnupg`, 0700: a hub.repos.keyring.locked_keyring), removed
(agent stopped) once the metadata is signed. Its path is recorded in `DEST/.publish-keyring`
BEFORE it is created (a durable atomic write), and its `lock` file is flocked for its whole
life, so a publish killed meanwhile (SIGKILL, power loss) leaves a keyring the next publish
finds and removes first: the one its DEST recorded, and any whose lock nobody holds.
`HUB_GNUPGHOME` + `HUB_SIGNING_KEY_ID` are used in place: nothing is recorded.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Iterator, Mapping

from hub.common import files
from hub.repos import keyring
from hub.repos.signer import Signer, signer_from_env
from hub.repos.signing_key import KEY_ENV
from hub.site.snapshots import KEYRING_RECORD

_KEYRING_NAME = keyring.keyring_name(keyring.PUBLISH_KEYRING_PREFIX)


def record_keyring(dest: Path, path: str | None) -> None:
    """Records (durably) the temporary keyring about to be made, or forgets it (None)."""
    record = dest / KEYRING_RECORD
    if path is None:
        record.unlink(missing_ok=True)
        files.fsync_directory(dest)
    else:
        files.write_atomic(record, (path + "\n").encode("utf-8"), durable=True)


def sweep_keyrings(dest: Path) -> list[str]:
    """Removes the temporary keyrings of killed publishes (and of killed `hub sign` runs): the
    one DEST's record names, and any orphan of any DEST in the temporary directory (their
    lock is no longer held). Returns their paths."""
    record = dest / KEYRING_RECORD
    try:
        recorded = record.read_text("utf-8").strip()
    except FileNotFoundError:
        recorded = None
    extra = []
    if recorded and os.path.isabs(recorded) and _KEYRING_NAME.match(os.path.basename(recorded)):
        extra.append(Path(recorded))  # a torn record names nothing we could have made
    removed = keyring.sweep_keyrings(extra)
    if recorded is not None:
        record_keyring(dest, None)
    return removed


@contextlib.contextmanager
def signer_for_publish(dest: Path, env: Mapping[str, str]) -> Iterator[tuple[Signer, str | None]]:
    """(signer, temporary keyring path or None). `HUB_SIGNING_KEY` goes into a private
    temporary GNUPGHOME (hub.repos.signing_key.import_private_key: through gpg's stdin) inside
    a `hub.repos.keyring.locked_keyring` named `hub-publish-key-<16 hex>` and recorded in DEST
    before it exists. `HUB_GNUPGHOME` + `HUB_SIGNING_KEY_ID` are used in place."""
    if not env.get(KEY_ENV, "").strip():
        with signer_from_env(env) as signer:
            yield signer, None
        return
    record = functools.partial(record_keyring, dest)
    with signer_from_env(env, prefix=keyring.PUBLISH_KEYRING_PREFIX, record=record) as signer:
        yield signer, os.path.dirname(signer.gnupghome)
