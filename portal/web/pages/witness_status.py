"""The witness's way back: the receipt code (the witness token in groups of four; before,
`<submission id>.<witness token>`) opens the receipt and status pages and the printable
receipt, and withdraws consent, always by POST so it never lands in a URL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from portal.deps import RuntimeDep
from portal.flows import withdrawal
from portal.runtime import Runtime
from portal.web.rendering import render, translator
from portal.web.routing import router
from portal.web.witness_codes import code_form, shown_code, token_of, witness_of, witness_view


@router.get("/status")
def status_form(request: Request) -> HTMLResponse:
    return code_form(request, "status")


@router.get("/receipt")
def receipt_form(request: Request) -> HTMLResponse:
    return code_form(request, "receipt")


def _witness_page(
    request: Request, rt: Runtime, code: str, template: str, **extra: Any
) -> HTMLResponse | None:
    t = translator(request)
    with rt.sessions() as db:
        sub = witness_of(db, code)
        if sub is None:
            return None
        view = witness_view(db, sub, t)
    return render(
        request,
        template,
        code=shown_code(code),
        token=token_of(code),
        grace_days=rt.settings.withdrawal_grace.days,
        **view,
        **extra,
    )


@router.post("/receipt")
def receipt_page(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=300)]
) -> HTMLResponse:
    page = _witness_page(request, rt, code, "witness/receipt.html")
    return page if page is not None else code_form(request, "receipt", bad=True)


@router.post("/status")
def status_page(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=300)]
) -> HTMLResponse:
    page = _witness_page(request, rt, code, "witness/status.html", withdrawn_now=False)
    return page if page is not None else code_form(request, "status", bad=True)


@router.post("/withdraw")
def withdraw(
    request: Request,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=300)],
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse:
    """First POST asks for confirmation; the second (confirm=yes) withdraws, as the API does."""
    if confirm != "yes":
        page = _witness_page(request, rt, code, "witness/withdraw.html")
        return page if page is not None else code_form(request, "status", bad=True)
    with rt.sessions() as db:
        sub = witness_of(db, code)
    if sub is None:
        return code_form(request, "status", bad=True)
    # Sent twice (a reload), the form shows the status again rather than an error.
    withdrawal.withdraw(
        rt.sessions,
        rt.retention,
        rt.upload_deps,
        submission_id=sub.id,
        now=rt.clock(),
        repeat_ok=True,
    )
    page = _witness_page(request, rt, code, "witness/status.html", withdrawn_now=True)
    assert page is not None
    return page
