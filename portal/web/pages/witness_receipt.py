"""The witness's receipt to keep: a print view (HTML) and a PDF, in the witness's language,
opened by the receipt code sent by POST (never in a URL), like the receipt page itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from portal.deps import RuntimeDep
from portal.submissions.receipts import status_address
from portal.web.receipt_print import qr_svg, receipt_pdf
from portal.web.rendering import render, translator
from portal.web.routing import router
from portal.web.witness_codes import code_form, shown_code, witness_of, witness_view


@router.post("/receipt/print")
def receipt_print(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=300)]
) -> HTMLResponse:
    t = translator(request)
    with rt.sessions() as db:
        sub = witness_of(db, code)
        if sub is None:
            return code_form(request, "receipt", bad=True)
        view = witness_view(db, sub, t)
    url = status_address(rt.settings.public_url)
    return render(
        request,
        "witness/receipt_print.html",
        code=shown_code(code),
        status_url=url,
        qr=qr_svg(url, label=t("receipt.qr_label")),
        **view,
    )


@router.post("/receipt/pdf", response_model=None)
def receipt_pdf_download(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=300)]
) -> Response:
    t = translator(request)
    with rt.sessions() as db:
        sub = witness_of(db, code)
        if sub is None:
            return code_form(request, "receipt", bad=True)
        view = witness_view(db, sub, t)
    pdf = receipt_pdf(
        t,
        code=shown_code(code),
        files=view["files"],
        unfinished=view["unfinished"],
        status_url=status_address(rt.settings.public_url),
    )
    name = "recibo.pdf" if t.lang == "es" else "receipt.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
