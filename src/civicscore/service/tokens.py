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

Roles: ``read`` (policies, checks, decisions, ledger balances and statements),
``ledger`` (ledger writes) and ``review`` (confirmations and overrides, and the
list of proposals). A missing or unknown token is 401; a token without the
role the endpoint needs, 403. A route asks for its role with
``Depends(needs(tokens, ROLE))``, which also gives it the token (its ``name`` is
the author of what the route writes).
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import UsageError
from .problems import Answer

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


BEARER = HTTPBearer(auto_error=False, description="A token of the service's --tokens file "
                                                  "(every /v1 route but the policy pages).")

#: what each role is for, as a 403 says it
PURPOSE = {"read": "decisions, policies and ledger balances",
           "ledger": "ledger writes (posts, redemptions, holds, adjustments)",
           "review": "reviews of logged decisions"}


def needs(tokens: Tokens | None, role: str) -> Callable[..., Token | None]:
    """A FastAPI dependency that refuses a request without a token of ``role`` (401 for
    no token or an unknown one, 403 for one without the role) and gives the route the
    token; with no ``tokens`` (an open service on loopback) it lets every request in
    and gives ``None``. The dependency carries ``role``, so the OpenAPI document can
    name each route's role (:func:`.app.describe_routes`)."""

    def check(credentials: Annotated[HTTPAuthorizationCredentials | None,
                                     Depends(BEARER)]) -> Token | None:
        if tokens is None:
            return None
        challenge = {"WWW-Authenticate": 'Bearer realm="civicscore"'}
        if credentials is None:
            raise Answer(401, "this service needs a bearer token: send the header "
                              "Authorization: Bearer TOKEN", kind="token",
                         headers=challenge)
        token = tokens.who(credentials.credentials)
        if token is None:
            raise Answer(401, "the token is not one this service accepts", kind="token",
                         headers=challenge)
        if role not in token.roles:
            raise Answer(403, f"this token has no {role!r} role, which {PURPOSE[role]} "
                              f"need", kind="role", role=role)
        return token

    check.role = role  # type: ignore[attr-defined]
    return check


def author_of(token: Token | None, given: str | None) -> str:
    """Who writes what a request asks for (an adjustment, a reversal, a review): the
    token's name, so that no holder of a token can sign as another; on a service
    without tokens, the body's ``by`` (422 when it is missing). A ``by`` that differs
    from the token's name is refused rather than silently replaced."""
    if token is not None:
        if given is not None and given.strip() != token.name:
            raise Answer(422, f"by: the author is the token's name ({token.name!r}); "
                              f"leave by out", kind="request", field="by")
        return token.name
    if not given or not given.strip():
        raise Answer(422, "by: who makes it is required (a service without tokens "
                          "cannot tell)", kind="request", field="by")
    return given
