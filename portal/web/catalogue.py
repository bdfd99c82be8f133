"""Every string of the web pages, in Spanish and English (data; portal.web.i18n uses it)."""

from __future__ import annotations

from portal.web.catalogue_fields import FIELDS
from portal.web.catalogue_oidc import OIDC
from portal.web.catalogue_passkeys import PASSKEYS
from portal.web.catalogue_redactions import REDACTIONS
from portal.web.catalogue_requests import REQUESTS
from portal.web.catalogue_shares import SHARES
from portal.web.catalogue_staff import STAFF
from portal.web.catalogue_witness import WITNESS

CATALOGUE: dict[str, dict[str, str]] = {
    # --- every page -------------------------------------------------------------------------------
    "site.name": {"es": "Portal de entrega de pruebas", "en": "Evidence submission portal"},
    "site.skip": {"es": "Ir al contenido", "en": "Skip to content"},
    "lang.switch": {"es": "English", "en": "Español"},
    "lang.switch_label": {"es": "Read in English", "en": "Leer en español"},
    "footer.privacy": {
        "es": "No guardamos su dirección IP ni datos de su navegador.",
        "en": "We do not store your IP address or browser details.",
    },
    "error.title": {"es": "No se pudo completar", "en": "That did not work"},
    "error.back": {"es": "Volver al inicio", "en": "Back to the start"},
    "error.not_found": {"es": "Esta página no existe.", "en": "This page does not exist."},
    "error.csrf": {
        "es": "El formulario caducó o no vino de esta página. Vuelva atrás, recargue e "
        "inténtelo de nuevo.",
        "en": "The form expired or did not come from this page. Go back, reload and try again.",
    },
    "error.invalid": {
        "es": "Algunos datos no son válidos: {detail}",
        "en": "Some of the data is not valid: {detail}",
    },
    # --- consent ----------------------------------------------------------------------------------
    "consent.title": {"es": "Entregar un video o una foto", "en": "Hand over a video or photo"},
    "consent.intro": {
        "es": "Gracias por ayudar. Lea con calma lo que significa entregar su material.",
        "en": "Thank you for helping. Please read what handing over your material means.",
    },
    "consent.heading": {"es": "Su consentimiento", "en": "Your consent"},
    "consent.version": {
        "es": "Versión {version} del texto de consentimiento; huella SHA-256:",
        "en": "Consent text version {version}; SHA-256 fingerprint:",
    },
    "consent.scopes": {"es": "¿Para qué puede usarse?", "en": "What may it be used for?"},
    "consent.required": {"es": "(necesario para entregar)", "en": "(needed to hand it over)"},
    "consent.optional": {"es": "(opcional)", "en": "(optional)"},
    "incident.heading": {
        "es": "Sobre lo que pasó (opcional)",
        "en": "About what happened (optional)",
    },
    "incident.hint": {
        "es": "Solo si quiere: ayuda a encontrar el material correcto.",
        "en": "Only if you want to: it helps find the right material.",
    },
    "incident.when": {"es": "Cuándo ocurrió", "en": "When it happened"},
    "incident.where": {"es": "Dónde ocurrió", "en": "Where it happened"},
    "incident.what": {"es": "Qué ocurrió", "en": "What happened"},
    "contact.heading": {"es": "Cómo contactarle (opcional)", "en": "How to reach you (optional)"},
    "contact.note": {
        "es": "No hace falta dar ningún dato para entregar el material. Si los da, se guardan "
        "cifrados y separados del material. Solo los supervisores autorizados pueden verlos, "
        "no los investigadores ni el resto del personal, y cada vez que alguien los mira "
        "queda registrado. Nunca aparecen en el registro de custodia ni en su recibo. Si "
        "teme por su seguridad, déjelos en blanco.",
        "en": "You do not have to give any details to hand over your material. If you do, "
        "they are stored encrypted and apart from the material. Only authorised supervisors "
        "can see them, not investigators or other staff, and every look at them is logged. "
        "They never appear in the custody log or on your receipt. If you fear for your "
        "safety, leave them blank.",
    },
    "contact.name": {"es": "Nombre", "en": "Name"},
    "contact.phone": {"es": "Teléfono", "en": "Phone"},
    "contact.email": {"es": "Correo electrónico", "en": "Email"},
    "consent.submit": {"es": "Acepto y quiero subir archivos", "en": "I agree, let me upload"},
    "consent.need_scope": {
        "es": "Para entregar material hace falta aceptar el primer uso (investigar el hecho).",
        "en": "To hand over material you need to accept the first use (investigating the "
        "incident).",
    },
    "consent.bad_email": {
        "es": "El correo electrónico no parece válido. Corríjalo o déjelo en blanco.",
        "en": "The email address does not look valid. Correct it or leave it blank.",
    },
    "consent.bad_date": {
        "es": "La fecha y hora del hecho no es válida.",
        "en": "The date and time of the incident is not valid.",
    },
    "consent.outdated": {
        "es": "El texto de consentimiento cambió mientras leía. Lea la versión nueva, abajo.",
        "en": "The consent text changed while you were reading. Please read the new version below.",
    },
    "consent.rate_limited": {
        "es": "Se han abierto demasiadas entregas desde su red en poco tiempo. Sus datos siguen "
        "abajo: inténtelo de nuevo en {minutes} min.",
        "en": "Too many submissions were opened from your network in a short time. Your details "
        "are kept below: please try again in {minutes} min.",
    },
    "consent.bad_input": {
        "es": "Algún dato no es válido o es demasiado largo: {field}.",
        "en": "Some data is not valid or too long: {field}.",
    },
    "consent.have_code": {
        "es": "¿Ya entregó material? Consulte el estado con su código de recibo.",
        "en": "Already handed something over? Check its status with your receipt code.",
    },
    # --- upload -----------------------------------------------------------------------------------
    "upload.title": {"es": "Suba sus archivos", "en": "Upload your files"},
    "upload.code_heading": {"es": "Su código de recibo", "en": "Your receipt code"},
    "upload.code_note": {
        "es": "Guárdelo en un lugar seguro: con él puede ver el estado de su entrega o retirar "
        "su consentimiento. Quien tenga este código puede hacerlo también.",
        "en": "Keep it somewhere safe: with it you can check your submission or withdraw your "
        "consent. Anyone holding this code can do so too.",
    },
    "upload.copy": {"es": "Copiar el código", "en": "Copy the code"},
    "upload.pick": {
        "es": "Elija videos, fotos o audios (puede elegir varios)",
        "en": "Choose videos, photos or audio (you can pick several)",
    },
    "upload.pick_hint": {
        "es": "Si se corta la conexión, la subida continúa sola cuando vuelva. Si cierra la "
        "página, vuelva a abrirla y elija el mismo archivo: seguirá donde quedó.",
        "en": "If the connection drops, the upload carries on by itself when it is back. If "
        "you close the page, open it again and choose the same file: it continues where it "
        "stopped.",
    },
    "upload.metadata_hint": {
        "es": "El archivo se guarda tal cual, sin cambios: lleva lo que su teléfono o cámara "
        "escribió en él, a veces el lugar (GPS), el modelo del aparato y la fecha. El nombre del "
        "archivo se borra si usted retira su consentimiento.",
        "en": "The file is kept exactly as it is: it carries whatever your phone or camera "
        "wrote into it, sometimes the place (GPS), the device model and the date. The file's "
        "name is erased if you withdraw your consent.",
    },
    "upload.received_heading": {"es": "Ya recibidos", "en": "Already received"},
    "upload.pending_heading": {"es": "Subidas sin terminar", "en": "Unfinished uploads"},
    "upload.pending_hint": {
        "es": "Vuelva a elegir el mismo archivo para continuar donde quedó.",
        "en": "Choose the same file again to continue where it stopped.",
    },
    "upload.files_heading": {"es": "Subiendo", "en": "Uploading"},
    "upload.receipt": {"es": "Terminar y ver mi recibo", "en": "Finish and see my receipt"},
    "upload.no_code": {
        "es": "Este dispositivo no tiene el código de esta entrega. Consulte el estado con su "
        "código de recibo.",
        "en": "This device does not hold the code of this submission. Check its status with "
        "your receipt code.",
    },
    "upload.needs_js": {
        "es": "Para subir archivos, active JavaScript en su navegador.",
        "en": "To upload files, turn on JavaScript in your browser.",
    },
    # --- receipt and status -----------------------------------------------------------------------
    "receipt.title": {"es": "Su recibo", "en": "Your receipt"},
    "about_log.link": {
        "es": "Qué prueba su recibo, y cómo comprobarlo",
        "en": "What your receipt proves, and how to check it",
    },
    "about_log.title": {"es": "Qué prueba su recibo", "en": "What your receipt proves"},
    "about_log.log": {
        "es": "Cada entrega y cada vez que alguien mira o mueve su archivo quedan anotadas en "
        "un registro público que solo puede crecer: nada anotado puede borrarse ni cambiarse "
        "sin que se note.",
        "en": "Each hand-over, and every time someone views or moves your file, is written in "
        "a public record that can only grow: nothing written can be removed or changed "
        "unnoticed.",
    },
    "about_log.receipt": {
        "es": "Su recibo lleva la huella de cada archivo y una prueba matemática, firmada por "
        "el portal, de que la entrega está en ese registro. Cualquiera puede comprobarla sin "
        "confiar en nosotros.",
        "en": "Your receipt holds each file's fingerprint and a mathematical proof, signed by "
        "the portal, that the hand-over is in that record. Anyone can check it without "
        "trusting us.",
    },
    "about_log.timestamp": {
        "es": "Cuando el portal usa un sello de tiempo, una autoridad independiente confirma "
        "que el registro, con su entrega, ya existía en esa fecha y hora.",
        "en": "When the portal uses a timestamp, an independent authority confirms that the "
        "record, with your hand-over in it, already existed at that date and time.",
    },
    "about_log.later": {
        "es": "Años después, una persona de confianza puede comprobar que su entrega sigue en "
        "el registro con: portal verify-receipt recibo.json --against <dirección del portal>.",
        "en": "Years later, someone you trust can check that your hand-over is still in the "
        "record with: portal verify-receipt receipt.json --against <portal address>.",
    },
    "about_log.limits": {
        "es": "El registro no guarda su nombre ni sus datos de contacto. No prueba que el "
        "video muestre la verdad: solo qué se entregó y cuándo.",
        "en": "The record does not hold your name or contact details. It does not prove that "
        "the video shows the truth: only what was handed over, and when.",
    },
    "receipt.thanks": {
        "es": "Recibimos sus archivos. Cada uno tiene una huella SHA-256: si alguien cambiara "
        "un solo byte, la huella ya no coincidiría.",
        "en": "We received your files. Each has a SHA-256 fingerprint: if anyone changed a "
        "single byte, it would no longer match.",
    },
    "receipt.none": {"es": "Todavía no hay archivos recibidos.", "en": "No files received yet."},
    "receipt.download": {
        "es": "Descargar el recibo (archivo)",
        "en": "Download the receipt (file)",
    },
    "receipt.download_note": {
        "es": "El archivo del recibo incluye una prueba firmada del registro de custodia que "
        "cualquiera puede comprobar sin confiar en nosotros.",
        "en": "The receipt file includes a signed proof from the custody log that anyone can "
        "check without trusting us.",
    },
    "receipt.more": {"es": "Subir más archivos", "en": "Upload more files"},
    "receipt.status": {"es": "Ver el estado", "en": "See the status"},
    "receipt.forget": {
        "es": "Olvidar esta entrega en este dispositivo",
        "en": "Forget this submission on this device",
    },
    "receipt.forget_note": {
        "es": "Borra el código guardado en este navegador. Anote antes su código de recibo.",
        "en": "Removes the code kept in this browser. Write down your receipt code first.",
    },
    "receipt.forgotten": {
        "es": "Listo: este navegador ya no guarda el código.",
        "en": "Done: this browser no longer keeps the code.",
    },
    "file.name": {"es": "Archivo", "en": "File"},
    "file.size": {"es": "Tamaño", "en": "Size"},
    "file.sha256": {"es": "Huella SHA-256", "en": "SHA-256 fingerprint"},
    "file.received": {"es": "Recibido", "en": "Received"},
    "file.log_index": {"es": "Entrada del registro", "en": "Log entry"},
    "file.bytes": {"es": "{n} bytes", "en": "{n} bytes"},
    "file.retention": {"es": "Qué pasará con él", "en": "What happens to it"},
    "status.title": {"es": "Estado de su entrega", "en": "Your submission's status"},
    "status.enter": {
        "es": "Escriba o pegue su código de recibo",
        "en": "Type or paste your receipt code",
    },
    "status.enter_hint": {
        "es": "Lo recibió al entregar su material. Nadie más lo tiene.",
        "en": "You were given it when you handed over your material. Nobody else has it.",
    },
    "status.code": {"es": "Código de recibo", "en": "Receipt code"},
    "status.show": {"es": "Ver el estado", "en": "Show the status"},
    "status.show_receipt": {"es": "Ver el recibo", "en": "Show the receipt"},
    "status.bad_code": {
        "es": "Ese código no es válido. Revise que esté completo.",
        "en": "That code is not valid. Check that it is complete.",
    },
    "status.submission": {"es": "Entrega", "en": "Submission"},
    "status.created": {"es": "Entregada el", "en": "Handed over on"},
    "status.open": {"es": "Activa", "en": "Active"},
    "status.withdrawn": {"es": "Consentimiento retirado", "en": "Consent withdrawn"},
    "status.withdrawn_at": {
        "es": "Retiró su consentimiento el {at}.",
        "en": "You withdrew your consent on {at}.",
    },
    "status.scopes": {"es": "Usos aceptados", "en": "Uses you agreed to"},
    "status.unfinished": {"es": "Subidas sin terminar", "en": "Unfinished uploads"},
    "status.upload_progress": {"es": "{pct} % recibido", "en": "{pct}% received"},
    "retention.kept": {"es": "Se conserva mientras haga falta.", "en": "Kept while needed."},
    "retention.scheduled": {
        "es": "Se destruirá después del {until}.",
        "en": "To be destroyed after {until}.",
    },
    "retention.held": {
        "es": "Se conserva por una orden de conservación judicial.",
        "en": "Kept under a legal hold.",
    },
    "retention.needed_by_case": {
        "es": "Se conserva porque lo necesita una investigación abierta.",
        "en": "Kept because an open case investigation needs it.",
    },
    "retention.destroyed": {"es": "Destruido.", "en": "Destroyed."},
    "withdraw.heading": {"es": "Retirar su consentimiento", "en": "Withdraw your consent"},
    "withdraw.explain": {
        "es": "Si retira su consentimiento, no se podrá subir nada más a esta entrega y sus "
        "archivos se destruirán en {days} días, salvo que una orden judicial o una "
        "investigación abierta obligue a conservarlos; en ese caso esta página le dirá por "
        "qué. Sus datos de contacto se borrarán cuando se destruya el último archivo.",
        "en": "If you withdraw your consent, nothing more can be added to this submission and "
        "your files will be destroyed in {days} days, unless a court order or an open "
        "investigation requires keeping them; if so, this page will tell you why. Your "
        "contact details are erased when the last file is destroyed.",
    },
    "withdraw.start": {"es": "Quiero retirar mi consentimiento", "en": "I want to withdraw"},
    "withdraw.confirm_title": {
        "es": "¿Seguro que quiere retirar su consentimiento?",
        "en": "Are you sure you want to withdraw your consent?",
    },
    "withdraw.confirm": {
        "es": "Sí, retirar mi consentimiento",
        "en": "Yes, withdraw my consent",
    },
    "withdraw.cancel": {"es": "No, volver", "en": "No, go back"},
    "withdraw.done": {
        "es": "Su consentimiento quedó retirado.",
        "en": "Your consent has been withdrawn.",
    },
    # --- strings used by witness.js ---------------------------------------------------------------
    "js.waiting": {"es": "En espera", "en": "Waiting"},
    "js.uploading": {"es": "Subiendo", "en": "Uploading"},
    "js.paused": {"es": "En pausa", "en": "Paused"},
    "js.pause": {"es": "Pausar", "en": "Pause"},
    "js.resume": {"es": "Reanudar", "en": "Resume"},
    "js.done": {"es": "Recibido", "en": "Received"},
    "js.checking": {"es": "Comprobando…", "en": "Checking…"},
    "js.offline": {
        "es": "Sin conexión: seguirá sola cuando vuelva la conexión",
        "en": "Offline: it carries on by itself when the connection is back",
    },
    "js.retrying": {"es": "Conexión perdida, reintentando…", "en": "Connection lost, retrying…"},
    "js.left": {"es": "quedan {t}", "en": "{t} left"},
    "js.failed": {"es": "No se pudo subir: {msg}", "en": "Could not upload: {msg}"},
    "js.too_large": {"es": "el archivo es demasiado grande", "en": "the file is too large"},
    "js.not_media": {
        "es": "no es un video, una foto ni un audio",
        "en": "it is not a video, photo or audio file",
    },
    "js.expired": {
        "es": "la subida caducó; elija el archivo otra vez",
        "en": "the upload expired; choose the file again",
    },
    "js.refused": {
        "es": "la entrega ya no acepta archivos",
        "en": "the submission no longer accepts files",
    },
    "js.copied": {"es": "Código copiado", "en": "Code copied"},
    "js.resumed_from": {"es": "Continúa desde {pct} %", "en": "Continuing from {pct}%"},
    "js.download_failed": {
        "es": "No se pudo descargar el recibo. Inténtelo de nuevo.",
        "en": "The receipt could not be downloaded. Please try again.",
    },
    "js.all_done": {
        "es": "Todos los archivos se recibieron.",
        "en": "All files were received.",
    },
    # --- staff ------------------------------------------------------------------------------------
    "staff.title": {"es": "Personal", "en": "Staff"},
    "staff.login": {"es": "Iniciar sesión", "en": "Log in"},
    "staff.logout": {"es": "Cerrar sesión", "en": "Log out"},
    "staff.name": {"es": "Usuario", "en": "User name"},
    "staff.password": {"es": "Contraseña", "en": "Password"},
    "staff.bad_login": {
        "es": "Usuario o contraseña incorrectos. Tras varios fallos, espere un minuto antes de "
        "volver a intentarlo.",
        "en": "Wrong name or password. After several failures, wait a minute before trying again.",
    },
    "staff.rate_limited": {
        "es": "Demasiados intentos de inicio de sesión desde su red. Inténtelo de nuevo en "
        "{minutes} min.",
        "en": "Too many login tries from your network. Please try again in {minutes} min.",
    },
    "staff.https_needed": {
        "es": "El inicio de sesión del personal necesita HTTPS: esta conexión no está cifrada y "
        "el navegador no guardará la sesión.",
        "en": "Staff login needs HTTPS: this connection is not encrypted and the browser will "
        "not keep the session.",
    },
    "staff.signed_in_as": {"es": "{name} ({role})", "en": "{name} ({role})"},
    "nav.queue": {"es": "Bandeja", "en": "Queue"},
    "nav.cases": {"es": "Casos", "en": "Cases"},
    "nav.retention": {"es": "Destrucción pendiente", "en": "Due for destruction"},
    "nav.log": {"es": "Registro de custodia", "en": "Custody log"},
    "nav.changes": {"es": "Cambios por confirmar", "en": "Changes to confirm"},
    "queue.title": {"es": "Bandeja de pruebas", "en": "Evidence queue"},
    "queue.filters": {"es": "Filtros", "en": "Filters"},
    "queue.status": {"es": "Estado", "en": "Status"},
    "queue.any": {"es": "Cualquiera", "en": "Any"},
    "queue.media_type": {"es": "Tipo", "en": "Type"},
    "queue.case": {"es": "Caso", "en": "Case"},
    "queue.from": {"es": "Recibido desde", "en": "Received from"},
    "queue.to": {"es": "Recibido hasta (incluido)", "en": "Received up to (inclusive)"},
    "queue.sort": {"es": "Orden", "en": "Sort"},
    "queue.apply": {"es": "Aplicar", "en": "Apply"},
    "queue.total": {"es": "{total} elementos", "en": "{total} items"},
    "queue.empty": {"es": "Nada que mostrar.", "en": "Nothing to show."},
    "queue.prev": {"es": "Anterior", "en": "Previous"},
    "queue.next": {"es": "Siguiente", "en": "Next"},
    "queue.duration": {"es": "Duración", "en": "Duration"},
    "queue.cases": {"es": "Casos", "en": "Cases"},
    "state.new": {"es": "nuevo", "en": "new"},
    "state.accepted": {"es": "aceptado", "en": "accepted"},
    "state.declined": {"es": "rechazado", "en": "declined"},
    "sort.-received_at": {"es": "Más recientes", "en": "Newest"},
    "sort.received_at": {"es": "Más antiguos", "en": "Oldest"},
    "sort.-size": {"es": "Más grandes", "en": "Largest"},
    "sort.size": {"es": "Más pequeños", "en": "Smallest"},
    "sort.filename": {"es": "Nombre", "en": "Name"},
    "media.video": {"es": "Video", "en": "Video"},
    "media.image": {"es": "Imagen", "en": "Image"},
    "media.audio": {"es": "Audio", "en": "Audio"},
    "ev.title": {"es": "Prueba", "en": "Evidence"},
    "ev.download": {"es": "Descargar el original", "en": "Download the original"},
    "ev.review_copy": {
        "es": "Se reproduce una copia de revisión (H.264, hecha para el navegador); el original es",
        "en": "Playing a review copy (H.264, made for the browser); the original is",
    },
    "ev.play_original": {"es": "Reproducir el original", "en": "Play the original"},
    "ev.metadata": {"es": "Metadatos", "en": "Metadata"},
    "ev.media_type": {"es": "Tipo", "en": "Media type"},
    "ev.resolution": {"es": "Resolución", "en": "Resolution"},
    "ev.rotated": {
        "es": "guardado como {width}\u00d7{height} y girado {degrees}° al mostrarlo",
        "en": "stored as {width}\u00d7{height}, turned {degrees}° to show",
    },
    "ev.codecs": {"es": "Códecs", "en": "Codecs"},
    "ev.created": {"es": "Fecha de grabación", "en": "Recorded"},
    "ev.location": {"es": "Ubicación", "en": "Location"},
    "ev.device": {"es": "Dispositivo", "en": "Device"},
    "ev.unreadable": {
        "es": "Ilegible: no se pudieron leer metadatos ni póster de este archivo",
        "en": "Unreadable: no metadata or poster could be read from this file",
    },
    "ev.consent": {"es": "Consentimiento", "en": "Consent"},
    "ev.incident": {"es": "Lo que contó el testigo", "en": "What the witness said"},
    "ev.thumbnail": {"es": "Miniatura", "en": "Thumbnail"},
    "ev.player": {"es": "Reproducción", "en": "Playback"},
    "ev.no_player": {
        "es": "Su rol no permite ver el contenido.",
        "en": "Your role may not view the content.",
    },
    "ev.timeline": {"es": "Cadena de custodia", "en": "Custody timeline"},
    "ev.when": {"es": "Cuándo", "en": "When"},
    "ev.event": {"es": "Evento", "en": "Event"},
    "ev.actor": {"es": "Quién", "en": "Who"},
    "ev.details": {"es": "Detalles", "en": "Details"},
    "ev.triage": {"es": "Clasificación", "en": "Triage"},
    "ev.accept": {"es": "Aceptar", "en": "Accept"},
    "ev.decline": {"es": "Rechazar", "en": "Decline"},
    "ev.reason": {"es": "Motivo", "en": "Reason"},
    "ev.decision": {"es": "Decisión", "en": "Decision"},
    "ev.save": {"es": "Guardar", "en": "Save"},
    "ev.cases": {"es": "Casos vinculados", "en": "Linked cases"},
    "ev.link": {"es": "Vincular a un caso", "en": "Link to a case"},
    "ev.unlink": {"es": "Desvincular", "en": "Unlink"},
    "ev.holds": {"es": "Órdenes de conservación", "en": "Legal holds"},
    "ev.hold_place": {"es": "Poner una orden de conservación", "en": "Place a legal hold"},
    "ev.hold_release": {"es": "Levantar", "en": "Release"},
    "ev.case_reference": {"es": "Referencia judicial", "en": "Court reference"},
    "ev.retention": {"es": "Conservación", "en": "Retention"},
    "ev.category": {"es": "Categoría", "en": "Category"},
    "ev.until": {"es": "Conservar hasta", "en": "Retain until"},
    "ev.indefinite": {"es": "indefinidamente", "en": "indefinitely"},
    "ev.contact": {"es": "Contacto del testigo", "en": "Witness contact"},
    "ev.contact_show": {
        "es": "Ver el contacto (queda registrado)",
        "en": "Show the contact (this is logged)",
    },
    "ev.contact_none": {"es": "El testigo no dejó contacto.", "en": "The witness left no contact."},
    "ev.witness_data": {"es": "Relato, lugar y dispositivo", "en": "Incident, place and device"},
    "ev.incident_show": {
        "es": "Ver el relato y el lugar y dispositivo del archivo (queda registrado)",
        "en": "Show the incident and the file's place and device (this is logged)",
    },
    "ev.witness_data_none": {
        "es": "Ni el testigo ni el archivo dieron lugar, relato o dispositivo.",
        "en": "Neither the witness nor the file gave a place, description or device.",
    },
    "ev.done": {"es": "Guardado.", "en": "Saved."},
    "ev.back": {"es": "Volver a la prueba", "en": "Back to the item"},
    "cases.title": {"es": "Casos", "en": "Cases"},
    "cases.new": {"es": "Nuevo caso", "en": "New case"},
    "cases.case_title": {"es": "Título", "en": "Title"},
    "cases.reference": {"es": "Referencia", "en": "Reference"},
    "cases.offense": {"es": "Tipo de delito", "en": "Offense class"},
    "cases.create": {"es": "Crear", "en": "Create"},
    "cases.items": {"es": "Pruebas", "en": "Items"},
    "cases.status": {"es": "Estado", "en": "Status"},
    "cases.close": {"es": "Cerrar el caso", "en": "Close the case"},
    "cases.reopen": {"es": "Reabrir", "en": "Reopen"},
    "changes.title": {"es": "Cambios por confirmar", "en": "Changes to confirm"},
    "changes.intro": {
        "es": "Un cambio que podría destruir pruebas antes, con menos aprobaciones, o crear a "
        "alguien que aprueba, solo se aplica cuando lo confirma una segunda persona.",
        "en": "A change that could destroy evidence sooner, with fewer approvals, or make someone "
        "an approver, applies only when a second person confirms it.",
    },
    "changes.none": {"es": "No hay cambios pendientes.", "en": "No changes are pending."},
    "changes.pending_here": {
        "es": "Cambio pendiente de confirmación (aún no aplicado)",
        "en": "Change awaiting confirmation (not applied yet)",
    },
    "changes.policy": {"es": "Regla «{category}»:", "en": "Rule “{category}”:"},
    "changes.keep": {"es": "conservar {old} → {new} días;", "en": "keep {old} → {new} days;"},
    "changes.indefinite": {"es": "sin límite", "en": "indefinitely"},
    "changes.approvals": {
        "es": "aprobaciones {old} → {new}.",
        "en": "approvals {old} → {new}.",
    },
    "changes.offense": {
        "es": "Rebajar el tipo de delito del caso",
        "en": "Downgrade the case's offense class",
    },
    "changes.role": {"es": "Cuenta {name}:", "en": "Account {name}:"},
    "changes.new_account": {"es": "cuenta nueva", "en": "new account"},
    "changes.asked_by": {"es": "Pedido por {name} el {when}.", "en": "Asked by {name} on {when}."},
    "changes.operator": {
        "es": "el operador (línea de órdenes)",
        "en": "the operator (command line)",
    },
    "changes.needs_supervisor": {
        "es": "Lo confirma otro supervisor.",
        "en": "Another supervisor confirms it.",
    },
    "changes.needs_admin": {
        "es": "Lo confirma otro administrador.",
        "en": "Another administrator confirms it.",
    },
    "changes.confirm": {"es": "Confirmar y aplicar", "en": "Confirm and apply"},
    "changes.reviewed": {
        "es": "He revisado este cambio y lo apruebo como segunda persona",
        "en": "I have reviewed this change and approve it as the second person",
    },
    "changes.withdraw": {"es": "Retirar mi petición", "en": "Withdraw my request"},
    "role.investigator": {"es": "investigador", "en": "investigator"},
    "role.supervisor": {"es": "supervisor", "en": "supervisor"},
    "role.auditor": {"es": "auditor", "en": "auditor"},
    "role.admin": {"es": "administrador", "en": "administrator"},
    "offense.misdemeanor": {"es": "falta", "en": "misdemeanor"},
    "offense.felony": {"es": "delito grave", "en": "felony"},
    "offense.homicide": {"es": "homicidio", "en": "homicide"},
    "retention.title": {"es": "Destrucción pendiente", "en": "Due for destruction"},
    "retention.approvals": {"es": "Aprobaciones", "en": "Approvals"},
    "retention.approve": {"es": "Aprobar la destrucción", "en": "Approve destruction"},
    "retention.ready": {"es": "Lista", "en": "Ready"},
    "retention.waiting": {"es": "Esperando aprobación", "en": "Awaiting approval"},
    "retention.none": {"es": "Nada pendiente.", "en": "Nothing is due."},
    "log.title": {"es": "Registro de custodia", "en": "Custody log"},
    "log.checkpoint": {"es": "Último punto de control firmado", "en": "Latest signed checkpoint"},
    "log.public_key": {"es": "Clave pública", "en": "Public key"},
    "log.none": {"es": "Aún no hay punto de control.", "en": "No checkpoint yet."},
    "log.size": {"es": "{size} entradas", "en": "{size} entries"},
}
CATALOGUE.update(STAFF)
# Larger feature groups keep their strings in a file of their own.
CATALOGUE.update(REQUESTS)
CATALOGUE.update(SHARES)
CATALOGUE.update(PASSKEYS)
CATALOGUE.update(WITNESS)
CATALOGUE.update(OIDC)
CATALOGUE.update(REDACTIONS)
CATALOGUE.update(FIELDS)
