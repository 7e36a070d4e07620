"""The configuration that defines an instance, kept in its backup, never a secret.

A backup holds, beside the database and the object list, three files (flat in the backup
folder, so a backup uploaded to a bucket keeps them), each listed in the manifest's ``config``
with its size and SHA-256:

- ``config-taxonomy.toml``: the taxonomy in use (``taxonomy_file``, else the bundled
  ``config/taxonomy.toml``): option lists, customer and document types, checklists, roles;
- ``config-understanding.toml``: the classification and extraction rules in use
  (``config/understanding.toml``);
- ``config-settings.json``: every setting as the instance resolved it, except those that are or
  may carry a secret (:data:`HIDDEN`: the secret key, and URLs that may hold a password or a
  token). Passwords are never settings themselves: only the names of the variables or files
  holding them are, and those are kept.

Restore does not overwrite the restored instance's configuration: which files an instance uses
is its own ``dossier.toml``'s decision, and the bundled files belong to the installed program.
It refuses a backup whose configuration files are missing or damaged (like its database file),
and reports for each file whether the restored instance uses the same (``same``) or not
(``differs``; for the settings, the keys that differ), naming the backup's copy to put in place
(for the taxonomy: point ``taxonomy_file`` at it) before the instance is used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from archive.errors import RestoreRefusedError
from config.config_file import HIDDEN_VALUES
from config.settings import Settings
from config.taxonomy import DEFAULT_TAXONOMY_FILE, DEFAULT_UNDERSTANDING_FILE

#: Settings never written to a backup (a webhook URL often carries its token).
HIDDEN = HIDDEN_VALUES | {"webhook_url"}
FILES = {
    "config-taxonomy.toml": "taxonomy",
    "config-understanding.toml": "understanding",
    "config-settings.json": "settings",
}


def settings_json(settings: Settings) -> bytes:
    """The instance's settings without :data:`HIDDEN`, as sorted JSON."""
    values = settings.model_dump(mode="json", exclude=set(HIDDEN))
    return json.dumps(values, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def in_use(settings: Settings) -> dict[str, tuple[str, bytes]]:
    """The instance's configuration files: backup name -> (where it is read from, bytes)."""
    taxonomy = Path(settings.taxonomy_file or DEFAULT_TAXONOMY_FILE)
    return {
        "config-taxonomy.toml": (str(taxonomy), taxonomy.read_bytes()),
        "config-understanding.toml": (
            str(DEFAULT_UNDERSTANDING_FILE),
            DEFAULT_UNDERSTANDING_FILE.read_bytes(),
        ),
        "config-settings.json": ("settings", settings_json(settings)),
    }


def save(settings: Settings, dest: Path) -> list[dict[str, Any]]:
    """Write the configuration files into the backup folder ``dest``; their manifest entries."""
    entries = []
    for name, (source, data) in in_use(settings).items():
        (dest / name).write_bytes(data)
        entries.append({"file": name, "what": FILES[name], "source": source,
                        "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    return entries


def verify(src: Path, entries: list[dict[str, Any]]) -> None:
    """Refuse a backup whose configuration files are missing or differ from their SHA-256."""
    for entry in entries:
        path = Path(src) / entry["file"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            raise RestoreRefusedError(f"备份的配置文件缺失或已损坏：{entry['file']}")


def compare(settings: Settings, src: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each backed-up file against what ``settings``' instance uses: same or differs."""
    current = in_use(settings)
    out = []
    for entry in entries:
        name = entry["file"]
        saved = (Path(src) / name).read_bytes()
        used_from, used = current.get(name, ("", b""))
        row = {"file": name, "what": entry["what"], "backup_copy": str(Path(src) / name),
               "in_use": used_from, "status": "same" if saved == used else "differs"}  # fmt: skip
        if entry["what"] == "settings" and saved != used:
            old, new = json.loads(saved), json.loads(used)
            row["keys"] = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        out.append(row)
    return out
