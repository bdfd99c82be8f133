"""The strings of the evidence-request pages, in Spanish and English (data; merged into
portal.web.catalogue.CATALOGUE)."""

from __future__ import annotations

REQUESTS: dict[str, dict[str, str]] = {
    # --- the witness's request page -------------------------------------------------------------
    "request.heading": {
        "es": "Una petición de los investigadores",
        "en": "A request from investigators",
    },
    "request.where": {"es": "Lugar", "en": "Place"},
    "request.when": {"es": "Cuándo", "en": "When"},
    "request.wanted": {"es": "Qué buscamos", "en": "What we are looking for"},
    "request.until": {"es": "Abierta hasta", "en": "Open until"},
    "request.kind.video": {"es": "video", "en": "video"},
    "request.kind.photo": {"es": "fotos", "en": "photos"},
    "request.kind.audio": {"es": "audio", "en": "audio"},
    "request.voluntary": {
        "es": "Responder es voluntario. Nadie sabrá que vio esta petición si no responde.",
        "en": "Answering is voluntary. Nobody will know you saw this request unless you answer.",
    },
    "request.who_sees": {
        "es": "Solo el equipo que investiga este hecho verá su video; puede usarse en un "
        "juicio solo si usted lo acepta abajo.",
        "en": "Only the team investigating this event will see your video; it may be used in "
        "court only if you agree below.",
    },
    "request.anonymous": {
        "es": "Puede quedarse en el anonimato: sus datos de contacto son opcionales.",
        "en": "You may stay anonymous: your contact details are optional.",
    },
    "request.contact_asked": {
        "es": "A los investigadores les ayudaría poder contactarle, pero no es obligatorio.",
        "en": "The investigators would find it helpful to contact you, but you need not.",
    },
    "request.answer": {"es": "Responder a esta petición", "en": "Answer this request"},
    "request.code_label": {"es": "Código de la petición", "en": "Request code"},
    # --- why a code leads nowhere (the witness's language; the page says nothing of a case) ----
    "error.request_unknown": {
        "es": "No hay ninguna petición con este código. Revise que lo escribió bien.",
        "en": "There is no request with this code. Check that it was typed correctly.",
    },
    "error.request_closed": {
        "es": "Esta petición ya está cerrada y no recibe más archivos. Gracias por su interés.",
        "en": "This request is closed and takes no more files. Thank you for your interest.",
    },
    "error.request_expired": {
        "es": "El plazo de esta petición terminó y ya no recibe archivos. Gracias por su interés.",
        "en": "This request has ended and takes no more files. Thank you for your interest.",
    },
    "error.request_revoked": {
        "es": "Esta petición fue retirada y ya no recibe archivos.",
        "en": "This request was withdrawn and takes no more files.",
    },
    "error.request_used": {
        "es": "Este enlace era de un solo uso y ya se usó. Si fue usted, su código de "
        "entrega le permite ver el estado de lo que envió.",
        "en": "This link could be used once and already was. If it was you, your submission "
        "code shows the status of what you sent.",
    },
    # --- staff ------------------------------------------------------------------------------------
    "nav.requests": {"es": "Peticiones", "en": "Requests"},
    "requests.title": {"es": "Peticiones de pruebas", "en": "Evidence requests"},
    "requests.none": {"es": "Aún no hay peticiones.", "en": "No requests yet."},
    "requests.code": {"es": "Código", "en": "Code"},
    "requests.kind": {"es": "Tipo", "en": "Kind"},
    "requests.state": {"es": "Estado", "en": "State"},
    "requests.case": {"es": "Caso", "en": "Case"},
    "requests.submissions": {"es": "Entregas", "en": "Submissions"},
    "requests.files": {"es": "Archivos", "en": "Files"},
    "requests.bytes": {"es": "Tamaño", "en": "Size"},
    "requests.last": {"es": "Última actividad", "en": "Last activity"},
    "requests.poster": {"es": "Cartel (PDF)", "en": "Poster (PDF)"},
    "requests.queue": {"es": "Ver en la cola", "en": "Show in the queue"},
}
