"""Sign in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from archive.users import AuthenticationError, ThrottledError, authenticate
from web.deps import Context, DbSession
from web.sessions import sign_in, sign_out
from web.views import render

router = APIRouter()


def safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    return render(request, "login.html", next_url=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    context: Context,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    try:
        user = authenticate(db, username=username, password=password)
    except ThrottledError as e:
        return render(
            request, "login.html", status_code=429, error=e.message,
            username=username, next_url=safe_next(next),
        )
    except AuthenticationError as e:
        return render(
            request, "login.html", status_code=401, error=e.message,
            username=username, next_url=safe_next(next),
        )
    sign_in(request, db, user=user, settings=context.settings)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, db: DbSession) -> Response:
    sign_out(request, db)
    return RedirectResponse("/login", status_code=303)
