"""The words of the redaction section of an item's page (portal.web.pages.redactions), in
Spanish and English; merged into `portal.web.catalogue.CATALOGUE`."""

from __future__ import annotations

REDACTIONS: dict[str, dict[str, str]] = {
    "redact.title": {"es": "Copias redactadas", "en": "Redactions"},
    "redact.intro": {
        "es": "Una copia redactada oculta rostros, matrículas o voces de terceros. El original "
        "no cambia nunca; la copia nombra su huella. Otra persona del personal debe aprobarla.",
        "en": "A redacted copy hides bystanders' faces, number plates or voices. The original "
        "never changes; the copy names its fingerprint. Another member of staff must approve it.",
    },
    "redact.none": {"es": "Aún no hay copias redactadas.", "en": "No redactions yet."},
    "redact.item": {"es": "Redacción {n}", "en": "Redaction {n}"},
    "redact.state.requested": {"es": "espera aprobación", "en": "awaiting approval"},
    "redact.state.approved": {"es": "aprobada; se está generando", "en": "approved; rendering"},
    "redact.state.rendered": {"es": "copia lista", "en": "copy ready"},
    "redact.state.failed": {"es": "no se pudo generar", "en": "could not be made"},
    "redact.purpose": {"es": "Finalidad", "en": "Purpose"},
    "redact.purpose.public_appeal": {"es": "llamamiento público", "en": "public appeal"},
    "redact.purpose.disclosure": {"es": "entrega a la defensa", "en": "defence disclosure"},
    "redact.purpose.other": {"es": "otra", "en": "other"},
    "redact.asked": {"es": "Pedida por", "en": "Asked by"},
    "redact.approved": {"es": "Aprobada por", "en": "Approved by"},
    "redact.not_yet": {"es": "todavía nadie", "en": "nobody yet"},
    "redact.operations": {"es": "Qué se oculta", "en": "What is hidden"},
    "redact.job": {"es": "Generación", "en": "Rendering"},
    "redact.job.queued": {
        "es": "en cola (intento {attempts} de {max})",
        "en": "queued (attempt {attempts} of {max})",
    },
    "redact.job.running": {
        "es": "en curso: {progress} % (intento {attempts} de {max})",
        "en": "running: {progress}% (attempt {attempts} of {max})",
    },
    "redact.job.done": {"es": "terminada", "en": "finished"},
    "redact.job.failed": {
        "es": "falló tras {attempts} intentos",
        "en": "failed after {attempts} attempts",
    },
    "redact.failure": {"es": "Motivo del fallo", "en": "Why it failed"},
    "redact.copy_sha256": {"es": "Huella SHA-256 de la copia", "en": "The copy's SHA-256"},
    "redact.provenance": {"es": "Cómo se hizo", "en": "How it was made"},
    "redact.provenance_words": {
        "es": "Hecha a partir del original {source} con {tool}; pedida por {asked}, aprobada "
        "por {approved}; generada el {when}. El registro de custodia firmado guarda este "
        "historial completo.",
        "en": "Made from the original {source} with {tool}; asked by {asked}, approved by "
        "{approved}; rendered {when}. The signed custody log holds this whole record.",
    },
    "redact.raw_event": {
        "es": "Ver la entrada {n} del registro tal cual",
        "en": "Show log entry {n} as recorded",
    },
    "redact.released": {"es": "Publicada", "en": "Released"},
    "redact.label": {
        "es": "COPIA REDACTADA — no es el original",
        "en": "REDACTED COPY — not the original",
    },
    "redact.label_original": {"es": "(SHA-256 del original:", "en": "(original SHA-256:"},
    "redact.preview_at": {"es": "Vista previa en el segundo", "en": "Preview at second"},
    "redact.preview": {"es": "Ver vista previa", "en": "Show preview"},
    "redact.preview_alt": {
        "es": "Fotograma en el segundo {at} con lo oculto aplicado",
        "en": "Frame at second {at} with the redaction applied",
    },
    "redact.preview_note": {
        "es": "Los recuadros activos se marcan en rojo; la copia final no lleva esas marcas.",
        "en": "Active boxes are outlined in red; the final copy carries no outline.",
    },
    "redact.wait_second": {
        "es": "Usted la pidió: la aprueba otra persona del personal.",
        "en": "You asked for it: another member of staff approves it.",
    },
    "redact.approve_sure": {
        "es": "Revisé la vista previa y apruebo esta copia redactada",
        "en": "I checked the preview and approve this redacted copy",
    },
    "redact.approve": {"es": "Aprobar", "en": "Approve"},
    "redact.release_sure": {
        "es": "Pedir que se publique esta copia (un supervisor debe confirmarlo)",
        "en": "Ask to release this copy to the public (a supervisor must confirm)",
    },
    "redact.release": {"es": "Pedir publicación", "en": "Ask for public release"},
    "redact.release_asked": {
        "es": "Publicación pedida; espera la confirmación de un supervisor.",
        "en": "Release asked; awaiting a supervisor's confirmation.",
    },
    "redact.new": {"es": "Nueva redacción", "en": "New redaction"},
    "redact.new_hint": {
        "es": "Medidas en píxeles del original ({width} x {height}); tiempos en segundos "
        "(duración: {duration} s). Cada fila oculta algo entre su inicio y su fin.",
        "en": "Sizes in the original's pixels ({width} x {height}); times in seconds (length: "
        "{duration} s). Each row hides something from its start to its end.",
    },
    "redact.rows_hint": {
        "es": "Las filas sin tipo no se usan. Para un recuadro, indique x, y, ancho y alto.",
        "en": "Rows without a kind are left out. For a box, give x, y, width and height.",
    },
    "redact.draw_alt": {
        "es": "Imagen del video para marcar un recuadro",
        "en": "A still of the video to mark a box on",
    },
    "redact.draw_hint": {
        "es": "Arrastre sobre la imagen para rellenar x, y, ancho y alto de la siguiente fila.",
        "en": "Drag over the picture to fill the next row's x, y, width and height.",
    },
    "redact.define": {"es": "Pedir esta redacción", "en": "Ask for this redaction"},
    "redact.f.kind": {"es": "Tipo", "en": "Kind"},
    "redact.f.x": {"es": "x", "en": "x"},
    "redact.f.y": {"es": "y", "en": "y"},
    "redact.f.w": {"es": "ancho", "en": "width"},
    "redact.f.h": {"es": "alto", "en": "height"},
    "redact.f.start": {"es": "inicio (s)", "en": "start (s)"},
    "redact.f.end": {"es": "fin (s)", "en": "end (s)"},
    "redact.kind.none": {"es": "(ninguno)", "en": "(none)"},
    "redact.kind.box_blur": {"es": "recuadro difuminado", "en": "blurred box"},
    "redact.kind.box_solid": {"es": "recuadro negro", "en": "solid box"},
    "redact.kind.frame_blur": {"es": "imagen entera difuminada", "en": "whole frame blurred"},
    "redact.kind.mute": {"es": "sonido silenciado", "en": "sound muted"},
    "redact.box_at": {
        "es": "en x {x}, y {y}, {w} x {h} píxeles",
        "en": "at x {x}, y {y}, {w} x {h} pixels",
    },
    "redact.span": {"es": "de {start} s a {end} s", "en": "from {start} s to {end} s"},
    "redact.err.purpose": {"es": "elija una finalidad", "en": "choose a purpose"},
    "redact.err.none": {
        "es": "indique al menos una fila con su tipo",
        "en": "fill in at least one row with its kind",
    },
    "redact.err.rows": {"es": "las filas llegaron incompletas", "en": "the rows came incomplete"},
    "redact.err.kind": {"es": "fila {row}: tipo desconocido", "en": "row {row}: unknown kind"},
    "redact.err.number": {
        "es": "fila {row}: «{field}» debe ser un número de 0 en adelante",
        "en": "row {row}: “{field}” must be a number from 0 up",
    },
    "redact.err.whole": {
        "es": "fila {row}: «{field}» debe ser un número entero de píxeles",
        "en": "row {row}: “{field}” must be a whole number of pixels",
    },
    "redact.err.order": {
        "es": "fila {row}: el fin debe ser posterior al inicio",
        "en": "row {row}: the end must come after the start",
    },
    "redact.err.small": {
        "es": "fila {row}: el recuadro debe medir al menos 2 x 2 píxeles",
        "en": "row {row}: the box must be at least 2 x 2 pixels",
    },
    "redact.err.not_video": {
        "es": "solo se redactan videos cuyo tamaño y duración se conocen",
        "en": "only videos whose size and length are known can be redacted",
    },
    "redact.err.after_end": {
        "es": "fila {row}: el fin es posterior al final del video ({duration} s)",
        "en": "row {row}: the end is after the video's end ({duration} s)",
    },
    "redact.err.width": {
        "es": "fila {row}: el recuadro se sale del ancho de la imagen ({width})",
        "en": "row {row}: the box goes beyond the picture's width ({width})",
    },
    "redact.err.height": {
        "es": "fila {row}: el recuadro se sale del alto de la imagen ({height})",
        "en": "row {row}: the box goes beyond the picture's height ({height})",
    },
    "error.same_person": {
        "es": "Otra persona del personal debe aprobar lo que usted pidió.",
        "en": "Someone other than the person who asked must approve it.",
    },
    "error.no_public_appeal": {
        "es": "El testigo no consintió un llamamiento público; no se puede publicar nada.",
        "en": "The witness did not consent to a public appeal; nothing may be released.",
    },
    "error.not_rendered": {
        "es": "Solo se publica una copia redactada ya generada.",
        "en": "Only a rendered redacted copy can be released.",
    },
    "error.already_released": {
        "es": "Esta copia redactada ya se publicó.",
        "en": "This redacted copy was already released.",
    },
}
