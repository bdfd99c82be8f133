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
    "requests.new": {"es": "Nueva petición", "en": "New request"},
    "requests.new_intro": {
        "es": "Publique una petición (un enlace y un código QR para carteles y redes) o, si "
        "escribe el nombre y el teléfono de una persona, un enlace de un solo uso para ella. "
        "La página pública muestra solo lo que escriba aquí, nunca datos del caso.",
        "en": "Publish a request (a link and a QR code for posters and social media) or, if you "
        "enter one person's name and phone, a one-time link for them. The public page shows "
        "only what you write here, never details of the case.",
    },
    "requests.title_es": {"es": "Título en español", "en": "Title in Spanish"},
    "requests.title_en": {"es": "Título en inglés", "en": "Title in English"},
    "requests.description_es": {"es": "Descripción en español", "en": "Description in Spanish"},
    "requests.description_en": {"es": "Descripción en inglés", "en": "Description in English"},
    "requests.place": {"es": "Lugar", "en": "Place"},
    "requests.window_start": {"es": "Desde (fecha y hora)", "en": "From (date and time)"},
    "requests.window_end": {"es": "Hasta (fecha y hora)", "en": "Until (date and time)"},
    "requests.expires": {"es": "La petición caduca el", "en": "The request expires on"},
    "requests.zone": {"es": "Horas en la zona {zone}.", "en": "Times in the {zone} time zone."},
    "requests.wanted": {"es": "Qué se pide", "en": "What is wanted"},
    "requests.kind_video": {"es": "Video", "en": "Video"},
    "requests.kind_photo": {"es": "Fotos", "en": "Photos"},
    "requests.kind_audio": {"es": "Audio", "en": "Audio"},
    "requests.ask_contact": {
        "es": "Pedir datos de contacto (siempre opcionales para el testigo)",
        "en": "Ask for contact details (always optional for the witness)",
    },
    "requests.one_person": {"es": "Enlace para una sola persona", "en": "Link for one person"},
    "requests.one_person_hint": {
        "es": "Déjelo vacío para una petición pública. Solo se guarda una huella del nombre y el "
        "teléfono, nunca el texto.",
        "en": "Leave empty for a public request. Only a fingerprint of the name and phone is "
        "kept, never the text.",
    },
    "requests.recipient_name": {"es": "Nombre", "en": "Name"},
    "requests.recipient_phone": {"es": "Teléfono", "en": "Phone"},
    "requests.notify": {
        "es": "Avisarme de cada archivo que llegue",
        "en": "Tell me of each file that arrives",
    },
    "requests.notify_hint": {
        "es": "Opcional. El aviso dice solo la petición, el caso, cuántos archivos y un enlace: "
        "nunca quién envió ni qué. El webhook debe estar entre las direcciones que permite "
        "la administración.",
        "en": "Optional. The notice names only the request, the case, how many files and a "
        "link: never who sent what. The webhook must be one of the addresses the operator "
        "allows.",
    },
    "requests.notify_url": {"es": "Webhook (URL)", "en": "Webhook (URL)"},
    "requests.notify_email": {"es": "Correo electrónico", "en": "Email"},
    "requests.create": {"es": "Crear la petición", "en": "Create the request"},
    "requests.made": {"es": "Petición creada", "en": "Request created"},
    "requests.once_only": {
        "es": "Copie ahora el mensaje: el enlace de un solo uso no se vuelve a mostrar.",
        "en": "Copy the message now: the one-time link is not shown again.",
    },
    "requests.send_this": {
        "es": "Texto para enviar (SMS, mensajería o tarjeta)",
        "en": "Text to send (SMS, messenger or a card)",
    },
    "requests.public_address": {"es": "Dirección pública:", "en": "Public address:"},
    "requests.qr_png": {"es": "Código QR (PNG)", "en": "QR code (PNG)"},
    "requests.qr_svg": {"es": "Código QR (SVG)", "en": "QR code (SVG)"},
    "requests.back": {"es": "Volver a las peticiones", "en": "Back to the requests"},
    "requests.kind.public": {"es": "pública", "en": "public"},
    "requests.kind.individual": {"es": "una persona", "en": "one person"},
    "requests.state.open": {"es": "abierta", "en": "open"},
    "requests.state.closed": {"es": "cerrada", "en": "closed"},
    "requests.state.revoked": {"es": "revocada", "en": "revoked"},
    "requests.end_confirm": {
        "es": "Dejar de aceptar entregas por esta petición",
        "en": "Stop taking submissions through this request",
    },
    "requests.close": {"es": "Cerrar", "en": "Close"},
    "requests.revoke": {"es": "Revocar", "en": "Revoke"},
}
