"""The strings of the witness's printable receipt, upload warnings and error pages, in Spanish
and English (data; merged into portal.web.catalogue.CATALOGUE)."""

from __future__ import annotations

WITNESS: dict[str, dict[str, str]] = {
    "js.finished": {"es": "Terminado", "en": "Finished"},
    "js.leave_unfinished": {
        "es": "Hay {n} archivo(s) que aún no terminan de subir. Si sale ahora, no llegarán "
        "completos (podrá continuarlos más tarde desde esta página). ¿Salir de todos modos?",
        "en": "{n} file(s) have not finished uploading. If you leave now they will not arrive "
        "complete (you can carry on later from this page). Leave anyway?",
    },
    "file.log_entry": {"es": "Constancia pública", "en": "Public record"},
    "file.log_entry_text": {
        "es": "Anotado con el número {n} en el registro público de custodia, que nadie puede "
        "borrar ni cambiar.",
        "en": "Written down as number {n} in the public custody record, which nobody can "
        "erase or change.",
    },
    "receipt.unfinished_heading": {"es": "Subidas sin terminar", "en": "Unfinished uploads"},
    "receipt.unfinished_hint": {
        "es": "Estos archivos no llegaron completos y no forman parte del recibo. Para "
        "terminarlos, vuelva a la página de subida y elíjalos otra vez.",
        "en": "These files did not arrive complete and are not part of the receipt. To finish "
        "them, go back to the upload page and choose them again.",
    },
    "receipt.unfinished_item": {"es": "{name}: {pct} % subido", "en": "{name}: {pct}% sent"},
    "receipt.print": {"es": "Versión para imprimir", "en": "Printable version"},
    "receipt.pdf": {"es": "Descargar el recibo en PDF", "en": "Download the receipt as PDF"},
    "receipt.print_now": {"es": "Imprimir", "en": "Print"},
    "receipt.qr_note": {
        "es": "El código QR lleva a la página de estado. No contiene su código: para ver el "
        "estado tendrá que escribirlo.",
        "en": "The QR code leads to the status page. It does not hold your code: you will be "
        "asked to type it to see the status.",
    },
    "receipt.qr_label": {
        "es": "Código QR de la dirección de la página de estado",
        "en": "QR code of the status page's address",
    },
    "receipt.keep_code": {
        "es": "Guarde este código en un lugar seguro. Quien lo tenga puede ver el estado y "
        "retirar su consentimiento.",
        "en": "Keep this code somewhere safe. Whoever has it can see the status and withdraw "
        "your consent.",
    },
    "receipt.submitted": {"es": "Entrega", "en": "Submission"},
    "receipt.pdf_title": {"es": "Recibo de entrega", "en": "Submission receipt"},
}
