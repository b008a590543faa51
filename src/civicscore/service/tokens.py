"""Bearer tokens for the service: who may ask, stored hashed, each with roles.

A tokens file (``civicscore serve --tokens FILE``) is TOML::

    [[token]]
    name = "case-worker app"        # shown in nothing but this file and its errors
    sha256 = "9f86d081884c7d65..."  # hex SHA-256 of the token, never the token itself
    roles = ["read"]

A token is a long random string (``python -c "import secrets;
print(secrets.token_urlsafe(32))"``); its SHA-256 is what the file keeps
(``printf %s TOKEN | sha256sum``, or :func:`hash_token`), so a copy of the
file lets no one in. A plain hash is enough for a random token of 256 bits
(no dictionary to try); a password would need a slow one.

Roles: ``read`` (policies, checks, decisions), ``ledger`` (ledger writes) and
``review`` (confirmations and overrides); the last two are for the endpoints
still to come. A missing or unknown token is 401; a token without the role
the endpoint needs, 403.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

ROLES = ("read", "ledger", "review")


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as a tokens file keeps it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Token:
    name: str
    sha256: str
    roles: frozenset[str]


class Tokens:
    """The tokens a service accepts."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens = tuple(tokens)

    @classmethod
    def load(cls, path: str | Path) -> Tokens:
        """Read a tokens file; every mistake is named with the entry it is in."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise UsageError(f"--tokens {path}: cannot be read ({e.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"--tokens {path}: not a TOML file ({e})") from None
        entries = data.get("token")
        unknown = sorted(set(data) - {"token"})
        if unknown or not isinstance(entries, list) or not entries:
            raise UsageError(f"--tokens {path}: expected [[token]] tables with name, sha256 "
                             f"and roles" + (f" (unknown key {unknown[0]!r})" if unknown
                                             else ""))
        tokens = []
        for n, entry in enumerate(entries, start=1):
            where = f"--tokens {path}: token {n}"
            if not isinstance(entry, dict):
                raise UsageError(f"{where}: expected a [[token]] table")
            extra = sorted(set(entry) - {"name", "sha256", "roles"})
            if extra:
                raise UsageError(f"{where}: unknown key {extra[0]!r} (keys: name, sha256, "
                                 f"roles)")
            name, digest, roles = entry.get("name"), entry.get("sha256"), entry.get("roles")
            if not isinstance(name, str) or not name:
                raise UsageError(f"{where}: name: expected a non-empty string")
            if not isinstance(digest, str) or len(digest) != 64 or any(
                    c not in "0123456789abcdef" for c in digest.lower()):
                raise UsageError(f"{where} ({name}): sha256: expected the 64 hex digits of "
                                 f"the token's SHA-256 (printf %s TOKEN | sha256sum), never "
                                 f"the token itself")
            if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
                raise UsageError(f"{where} ({name}): roles: expected a list of "
                                 f"{', '.join(ROLES)}")
            tokens.append(Token(name, digest.lower(), frozenset(roles)))
        return cls(tokens)

    def who(self, presented: str) -> Token | None:
        """The token whose hash matches ``presented`` (compared in constant time)."""
        digest = hash_token(presented)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token.sha256, digest):
                found = token
        return found
