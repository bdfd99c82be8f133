"""The staff pages' words for the portal's vocabulary (states, scopes, retention categories,
custody events, roles) and for the staff tasks, in Spanish and English. Merged into
`portal.web.catalogue.CATALOGUE`; nothing a Spanish page shows may be a raw code."""

from __future__ import annotations

STAFF: dict[str, dict[str, str]] = {
    "file.name_erased": {
        "es": "(nombre borrado: el testigo retiró su consentimiento)",
        "en": "(name erased: the witness withdrew consent)",
    },
    # --- roles and landing pages ------------------------------------------------------------------
    "role.investigator": {"es": "investigador(a)", "en": "investigator"},
    "role.supervisor": {"es": "supervisor(a)", "en": "supervisor"},
    "role.auditor": {"es": "auditor(a)", "en": "auditor"},
    "role.admin": {"es": "administrador(a)", "en": "administrator"},
    "nav.users": {"es": "Personal", "en": "Staff accounts"},
    "users.title": {"es": "Cuentas del personal", "en": "Staff accounts"},
    "users.name": {"es": "Usuario", "en": "User name"},
    "users.role": {"es": "Función", "en": "Role"},
    "users.created": {"es": "Alta", "en": "Created"},
    "users.state": {"es": "Estado", "en": "State"},
    "users.active": {"es": "activa", "en": "active"},
    "users.disabled": {"es": "desactivada", "en": "disabled"},
    "users.mfa_on": {"es": "activo", "en": "on"},
    "users.mfa_off": {"es": "sin segundo factor", "en": "none"},
    "users.mfa_reset": {"es": "Pedir que se quite", "en": "Ask to remove it"},
    "users.mfa_reset_sure": {
        "es": "{name} perdió su autenticador o sus códigos; otro administrador debe confirmarlo",
        "en": "{name} lost their authenticator or codes; another admin must confirm it",
    },
    "error.forbidden": {
        "es": "Su función no permite hacer esto. Pida ayuda a un supervisor.",
        "en": "Your role may not do this. Ask a supervisor.",
    },
    "error.conflict": {
        "es": "No se pudo hacer en el estado actual: {detail}",
        "en": "That cannot be done as things stand: {detail}",
    },
    "error.staff_back": {"es": "Volver a mi página", "en": "Back to my page"},
    # --- access reports (portal.web.pages.audit) ----------------------------------------------
    "nav.audit": {"es": "Informes de acceso", "en": "Access reports"},
    "audit.title": {"es": "Informe de acceso", "en": "Access report"},
    "audit.intro": {
        "es": "Qué vio, descargó, exportó o compartió una persona del personal, o qué se hizo "
        "con un elemento, en un periodo, tal como lo dice el registro de custodia. Cada línea "
        "lleva su número de entrada para probarla contra el registro firmado.",
        "en": "What a staff member viewed, downloaded, exported or shared, or what was done to "
        "an item, over a period, as the custody log says. Each line carries its entry number "
        "so it can be proved against the signed log.",
    },
    "audit.staff": {"es": "Usuario del personal", "en": "Staff user name"},
    "audit.item": {"es": "o identificador del elemento", "en": "or item id"},
    "audit.from": {"es": "Desde", "en": "From"},
    "audit.to": {"es": "Hasta (incluido)", "en": "To (inclusive)"},
    "audit.show": {"es": "Ver informe", "en": "Show report"},
    "audit.period": {"es": "Periodo", "en": "Period"},
    "audit.summary": {
        "es": "{lines} entradas: {viewed} consultas, {downloaded} descargas, {exported} "
        "exportaciones, {shared} entregas compartidas; {flagged} señaladas como inusuales "
        "({contact} consultas de contacto).",
        "en": "{lines} entries: {viewed} views, {downloaded} downloads, {exported} exports, "
        "{shared} shares; {flagged} flagged as unusual ({contact} contact views).",
    },
    "audit.empty": {
        "es": "El registro no tiene entradas para esto en el periodo.",
        "en": "The log holds no entries for this in the period.",
    },
    "audit.when": {"es": "Cuándo", "en": "When"},
    "audit.who": {"es": "Quién", "en": "Who"},
    "audit.what": {"es": "Qué", "en": "What"},
    "audit.kind": {"es": "Tipo", "en": "Kind"},
    "audit.subject": {"es": "Sobre", "en": "About"},
    "audit.flags": {"es": "Inusual", "en": "Unusual"},
    "audit.category.viewed": {"es": "consulta", "en": "viewed"},
    "audit.category.downloaded": {"es": "descarga", "en": "downloaded"},
    "audit.category.exported": {"es": "exportación", "en": "exported"},
    "audit.category.shared": {"es": "compartido", "en": "shared"},
    "audit.category.other": {"es": "otra acción", "en": "other action"},
    "audit.flag.bulk_download": {"es": "descarga masiva", "en": "bulk download"},
    "audit.flag.off_hours": {"es": "fuera de horario", "en": "outside working hours"},
    "audit.flag.contact_view": {"es": "contacto del testigo", "en": "witness contact"},
    "audit.checkpoint": {
        "es": "Punto de control firmado y clave pública",
        "en": "Signed checkpoint and public key",
    },
    "audit.how_to_check": {
        "es": "Para probar una línea: pida la entrada "
        "(GET /api/v1/custody/entries?start=N&end=N+1) y su prueba de inclusión "
        "(GET /api/v1/custody/proof/inclusion?index=N&tree_size={size}); "
        "el hash de hoja debe ser el de la línea y la prueba debe dar la raíz de este punto de "
        "control firmado. `portal custody verify` revisa todas las entradas contra cada punto "
        "de control firmado, y `portal custody monitor` comprueba desde fuera que este punto de "
        "control extiende los anteriores.",
        "en": "To prove a line: fetch the entry (GET /api/v1/custody/entries?start=N&end=N+1) "
        "and its inclusion proof (GET /api/v1/custody/proof/inclusion?index=N&tree_size={size}); "
        "the leaf hash must be the line's and the proof must lead to this signed checkpoint's "
        "root. `portal custody verify` checks every entry against every signed checkpoint, and "
        "`portal custody monitor` checks from outside that this checkpoint extends the ones "
        "before it.",
    },
    "error.no_subject": {
        "es": "Indique un usuario del personal o un elemento.",
        "en": "Name a staff member or an item.",
    },
    "error.both_subjects": {
        "es": "Indique un usuario del personal o un elemento, no los dos.",
        "en": "Name a staff member or an item, not both.",
    },
    "error.bad_item": {
        "es": "El identificador de un elemento tiene 32 caracteres hexadecimales.",
        "en": "An item id is 32 hexadecimal characters.",
    },
    "error.bad_date": {
        "es": "Las fechas se escriben AAAA-MM-DD.",
        "en": "Dates are written YYYY-MM-DD.",
    },
    "error.bad_datetime": {
        "es": "{detail}: las fechas y horas se escriben AAAA-MM-DD HH:MM.",
        "en": "{detail}: dates and times are written YYYY-MM-DD HH:MM.",
    },
    "error.bad_period": {
        "es": "El periodo no vale: el primer día va antes del último, y abarca a lo sumo un año.",
        "en": "That period will not do: its first day comes before its last, and it spans at "
        "most a year.",
    },
    # --- states -----------------------------------------------------------------------------------
    "case_state.open": {"es": "abierto", "en": "open"},
    "case_state.closed": {"es": "cerrado", "en": "closed"},
    "scope.investigation": {"es": "investigación", "en": "investigation"},
    "scope.prosecution": {"es": "proceso judicial", "en": "court proceedings"},
    "scope.public_appeal": {"es": "llamado público", "en": "public appeal"},
    "category.unreviewed": {"es": "sin revisar", "en": "not yet reviewed"},
    "category.declined": {"es": "rechazada", "en": "declined"},
    "category.no-case": {"es": "aceptada, sin caso", "en": "accepted, no case"},
    "category.case-open": {"es": "en un caso abierto", "en": "in an open case"},
    "category.case-closed-misdemeanor": {
        "es": "caso cerrado (falta)",
        "en": "case closed (misdemeanor)",
    },
    "category.case-closed-felony": {
        "es": "caso cerrado (delito grave)",
        "en": "case closed (felony)",
    },
    "category.homicide": {"es": "homicidio", "en": "homicide"},
    "category.withdrawn": {"es": "consentimiento retirado", "en": "consent withdrawn"},
    # --- consent on the queue and the item page ---------------------------------------------------
    "consent.state": {"es": "Consentimiento", "en": "Consent"},
    "consent.given_for": {"es": "Dado para: {scopes}", "en": "Given for: {scopes}"},
    "consent.withdrawn_badge": {"es": "retirado", "en": "withdrawn"},
    "consent.withdrawn_on": {"es": "Retirado el {when}", "en": "Withdrawn on {when}"},
    "consent.withdrawn_means": {
        "es": "El testigo retiró su consentimiento. La prueba se destruye al terminar el plazo de "
        "gracia, salvo que un caso o una orden de conservación la necesite. Aceptarla o "
        "vincularla a un caso la conserva contra la voluntad del testigo: sólo con un motivo, "
        "que queda en el registro de custodia.",
        "en": "The witness withdrew consent. The item is destroyed when the grace period ends "
        "unless a case or a legal hold needs it. Accepting it or linking it to a case keeps it "
        "against the witness's wish: only with a reason, which is kept in the custody log.",
    },
    "consent.withdrawn_reason": {
        "es": "Motivo para conservarla pese al retiro del consentimiento",
        "en": "Reason to keep it although consent was withdrawn",
    },
    "error.consent_withdrawn": {
        "es": "El testigo retiró su consentimiento: indique el motivo para conservar la prueba.",
        "en": "The witness withdrew consent: give the reason to keep the item.",
    },
    # --- confirmations ----------------------------------------------------------------------------
    "confirm.title": {"es": "Confirmar", "en": "Confirm"},
    "confirm.unlink": {
        "es": "Entiendo que la prueba deja de estar vinculada a «{case}» y que su plazo de "
        "conservación puede acortarse.",
        "en": "I understand the item is no longer linked to “{case}” and its retention may "
        "shorten.",
    },
    "confirm.close": {
        "es": "Entiendo que al cerrar el caso empieza a contar el plazo de conservación de sus "
        "pruebas.",
        "en": "I understand that closing the case starts the retention period of its items.",
    },
    "confirm.destroy": {
        "es": "Entiendo que, con las aprobaciones necesarias, el original se destruye para "
        "siempre.",
        "en": "I understand that, once approved, the original is destroyed for good.",
    },
    "error.confirm_needed": {
        "es": "Marque la casilla para confirmar.",
        "en": "Tick the box to confirm.",
    },
    "retention.file": {"es": "Archivo", "en": "File"},
    "retention.cases": {"es": "Casos", "en": "Cases"},
    "retention.destroy_on": {"es": "Se destruye a partir del", "en": "Destroyed from"},
    "retention.no_case": {"es": "ninguno", "en": "none"},
    # --- holds ------------------------------------------------------------------------------------
    "hold.new": {"es": "Nueva orden de conservación", "en": "New legal hold"},
    "hold.active": {"es": "Órdenes vigentes y pasadas", "en": "Current and past holds"},
    "hold.release_reason": {"es": "Motivo para levantarla", "en": "Reason to release it"},
    "hold.placed": {"es": "Puesta el {when}", "en": "Placed {when}"},
    "hold.released": {"es": "levantada el {when}", "en": "released {when}"},
    # --- queue search and bulk --------------------------------------------------------------------
    "bulk.title": {"es": "Con los elegidos", "en": "With the ticked items"},
    "bulk.choose": {"es": "Elegir", "en": "Choose"},
    "bulk.pick": {"es": "Elegir {name}", "en": "Choose {name}"},
    "bulk.action": {"es": "Acción", "en": "Action"},
    "bulk.apply": {"es": "Aplicar a los elegidos", "en": "Apply to the ticked items"},
    "bulk.done": {"es": "Hecho en {n} elementos.", "en": "Done for {n} items."},
    "bulk.withdrawn_hint": {
        "es": "Sólo si alguno tiene el consentimiento retirado y se acepta o vincula.",
        "en": "Only if one has its consent withdrawn and is accepted or linked.",
    },
    "error.nothing_chosen": {
        "es": "Elija al menos un elemento de la lista.",
        "en": "Tick at least one item.",
    },
    "queue.pages": {"es": "Páginas", "en": "Pages"},
    "queue.search": {"es": "Buscar", "en": "Search"},
    "queue.search_hint": {
        "es": "Nombre del archivo, lugar o relato del incidente",
        "en": "File name, incident place or description",
    },
    # --- court export -----------------------------------------------------------------------------
    "export.title": {"es": "Exportación para el tribunal", "en": "Court export"},
    "export.note": {
        "es": "Un archivo zip con los originales, el registro de custodia con sus pruebas "
        "criptográficas y un informe en PDF; se verifica sin conexión.",
        "en": "A zip with the originals, the custody log with its proofs and a PDF report; it "
        "verifies offline.",
    },
    "export.language": {
        "es": "Idioma del informe de custodia (PDF)",
        "en": "Language of the custody report (PDF)",
    },
    "export.download": {"es": "Descargar la exportación", "en": "Download the export"},
    # --- the custody timeline ---------------------------------------------------------------------
    "tl.raw": {"es": "Evento original", "en": "Raw event"},
    "tl.times": {"es": "{n} veces", "en": "{n} times"},
    "tl.until": {"es": "hasta {when}", "en": "until {when}"},
    "tl.system": {"es": "el sistema", "en": "the system"},
    "tl.witness": {"es": "el testigo", "en": "the witness"},
    "tl.cli": {"es": "la consola de administración", "en": "the admin command line"},
    "tl.d.reason": {"es": "motivo: {v}", "en": "reason: {v}"},
    "tl.d.case": {"es": "caso: {v}", "en": "case: {v}"},
    "tl.d.to": {"es": "ahora: {v}", "en": "now: {v}"},
    "tl.d.withdrawn": {
        "es": "conservada pese al retiro del consentimiento: {v}",
        "en": "kept although consent was withdrawn: {v}",
    },
    "tl.d.category": {"es": "conservación: {v}", "en": "retention: {v}"},
    "tl.d.until": {"es": "hasta {v}", "en": "until {v}"},
    "tl.d.scopes": {"es": "usos: {v}", "en": "uses: {v}"},
    "tl.d.size": {"es": "tamaño: {v}", "en": "size: {v}"},
    # --- second factor ----------------------------------------------------------------------------
    "mfa.title": {"es": "Segundo factor", "en": "Second factor"},
    "mfa.intro": {
        "es": "Para entrar se necesita, además de la contraseña, un código de una aplicación de "
        "autenticación (TOTP). Escriba su usuario y contraseña para empezar.",
        "en": "Signing in needs, besides the password, a code from an authenticator app (TOTP). "
        "Type your name and password to begin.",
    },
    "mfa.begin": {"es": "Empezar", "en": "Begin"},
    "mfa.scan": {
        "es": "Escanee este código QR con su aplicación de autenticación y escriba el primer "
        "código que muestre.",
        "en": "Scan this QR code with your authenticator app and type the first code it shows.",
    },
    "mfa.by_hand": {"es": "O escriba esta clave a mano:", "en": "Or type this key by hand:"},
    "mfa.code": {"es": "Código de 6 cifras", "en": "6-digit code"},
    "mfa.confirm": {"es": "Activar", "en": "Turn on"},
    "mfa.done": {
        "es": "Segundo factor activado. Guarde estos códigos de recuperación en un lugar seguro: "
        "cada uno sirve una sola vez en lugar del código, y no se volverán a mostrar.",
        "en": "Second factor on. Keep these recovery codes somewhere safe: each works once in "
        "place of a code, and they will not be shown again.",
    },
    "mfa.bad_code": {
        "es": "Contraseña o código incorrectos. Empiece de nuevo si el código QR ya no sirve.",
        "en": "Wrong password or code. Begin again if the QR code no longer works.",
    },
    "mfa.already": {
        "es": "Esta cuenta ya tiene segundo factor. Para cambiarlo, un administrador debe pedir "
        "que se restablezca y otro confirmarlo.",
        "en": "This account already has a second factor. To replace it, one admin asks for a "
        "reset and a second admin confirms it.",
    },
    "mfa.start_again": {
        "es": "No hay un alta en curso: empiece de nuevo.",
        "en": "No enrolment is under way: begin again.",
    },
    "mfa.needed": {
        "es": "Su cuenta debe usar un segundo factor. Actívelo antes de entrar:",
        "en": "Your account must use a second factor. Turn it on before signing in:",
    },
    "staff.code": {
        "es": "Código de la aplicación o de recuperación (si su cuenta tiene segundo factor)",
        "en": "Authenticator or recovery code (if your account has a second factor)",
    },
    "staff.rate_limited_short": {
        "es": "Demasiados intentos desde su red. Inténtelo de nuevo en unos minutos.",
        "en": "Too many tries from your network. Please try again in a few minutes.",
    },
    "nav.sessions": {"es": "Mis sesiones", "en": "My sessions"},
    "sessions.title": {"es": "Mis sesiones abiertas", "en": "My open sessions"},
    "sessions.intro": {
        "es": "Dónde tiene la sesión abierta. Cierre las que no reconozca o dejó abiertas.",
        "en": "Where you are signed in. End any you do not recognise or left open.",
    },
    "sessions.opened": {"es": "Abierta", "en": "Opened"},
    "sessions.expires": {"es": "Caduca", "en": "Expires"},
    "sessions.end": {"es": "Cerrar", "en": "End"},
    "sessions.this_one": {"es": "esta sesión", "en": "this session"},
    "changes.release": {
        "es": "Publicar la copia redactada {id} (llamado público; el original no se publica)",
        "en": "Release the redacted copy {id} to the public (appeal; the original stays)",
    },
    "changes.second_factor": {
        "es": "Cuenta {name}: quitar el segundo factor (y sus códigos de recuperación)",
        "en": "Account {name}: remove the second factor (and its recovery codes)",
    },
}

EVENT_NAMES: dict[str, tuple[str, str]] = {
    "consent.given": ("consentimiento dado", "consent given"),
    "consent.withdrawn": ("consentimiento retirado", "consent withdrawn"),
    "submission.created": ("entrega creada", "submission created"),
    "upload.created": ("subida iniciada", "upload started"),
    "upload.completed": ("subida completada", "upload completed"),
    "upload.terminated": ("subida cancelada", "upload cancelled"),
    "evidence.received": ("prueba recibida", "item received"),
    "evidence.listed": ("vista en una lista", "shown in a list"),
    "evidence.viewed": ("ficha consultada", "item page opened"),
    "evidence.thumbnail_viewed": ("miniatura vista", "thumbnail viewed"),
    "evidence.proxy_viewed": ("copia de revisión reproducida", "review copy played"),
    "evidence.stream_opened": ("reproducción iniciada", "playback started"),
    "evidence.streamed": ("reproducción terminada", "playback ended"),
    "evidence.downloaded": ("original descargado", "original downloaded"),
    "evidence.triaged": ("clasificada", "triaged"),
    "evidence.linked": ("vinculada a un caso", "linked to a case"),
    "evidence.unlinked": ("desvinculada de un caso", "unlinked from a case"),
    "evidence.derived": ("copia derivada creada", "derived copy made"),
    "redaction.requested": ("redacción solicitada", "redaction requested"),
    "redaction.approved": ("redacción aprobada", "redaction approved"),
    "redaction.viewed": ("copia redactada vista", "redacted copy viewed"),
    "redaction.released": ("copia redactada publicada", "redacted copy released"),
    "evidence.timeline_viewed": ("cadena de custodia consultada", "custody timeline viewed"),
    "evidence.integrity_failed": ("falla de integridad", "integrity check failed"),
    "evidence.exported": ("exportada para el tribunal", "exported for court"),
    "evidence.purge_started": ("destrucción iniciada", "destruction started"),
    "evidence.purge_halted": ("destrucción detenida", "destruction halted"),
    "evidence.purged": ("original destruido", "original destroyed"),
    "witness.contact_viewed": ("contacto del testigo consultado", "witness contact viewed"),
    "log.entries_read": ("entradas del registro leídas", "log entries read"),
    "log.access_report_read": ("informe de acceso consultado", "access report read"),
    "witness.incident_viewed": (
        "relato, lugar y dispositivo consultados",
        "incident, place and device viewed",
    ),
    "witness.data_sealed": ("datos del testigo cifrados", "witness data encrypted"),
    "witness.details_erased": ("datos del testigo borrados", "witness details erased"),
    "submission.names_erased": ("nombres de archivo borrados", "file names erased"),
    "retention.changed": ("plazo de conservación cambiado", "retention changed"),
    "retention.overridden": ("plazo de conservación fijado a mano", "retention overridden"),
    "hold.placed": ("orden de conservación puesta", "legal hold placed"),
    "hold.released": ("orden de conservación levantada", "legal hold released"),
    "disposition.approved": ("destrucción aprobada", "destruction approved"),
    "case.created": ("caso creado", "case created"),
    "case.closed": ("caso cerrado", "case closed"),
    "case.reopened": ("caso reabierto", "case reopened"),
}
for _type, (_es, _en) in EVENT_NAMES.items():
    STAFF["event." + _type] = {"es": _es, "en": _en}
