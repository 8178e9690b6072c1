"""Who is acting, and from where: passed from the transport into services for the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: User
    # The session the request came with: step-up elevation belongs to it.
    session_id: int | None = None
    ip_address: str | None = None
    user_agent: str | None = None
