"""The words of shares, in Spanish and English: the supervisor's page and the recipient's.
Merged into `portal.web.catalogue.CATALOGUE`."""

from __future__ import annotations

SHARES: dict[str, dict[str, str]] = {
    "nav.shares": {"es": "Compartir", "en": "Shares"},
    "shares.title": {
        "es": "Compartir con fiscalía o defensa",
        "en": "Shares with prosecution or defence",
    },
    "shares.intro": {
        "es": "Abra un caso, o algunas de sus pruebas, a una persona con nombre, por un enlace "
        "que caduca y un código de un solo uso que usted le hace llegar por otro medio. Cada "
        "prueba necesita consentimiento para proceso judicial.",
        "en": "Open a case, or some of its items, to one named person, through a link that "
        "expires and a one-time code you pass on by another channel. Every item needs consent "
        "for court proceedings.",
    },
    "shares.case": {"es": "Caso", "en": "Case"},
    "shares.items": {
        "es": "Solo estas pruebas (identificadores; vacío: todo el caso)",
        "en": "Only these items (ids; empty: the whole case)",
    },
    "shares.recipient": {"es": "Destinatario (nombre)", "en": "Recipient (name)"},
    "shares.days": {"es": "Días de validez", "en": "Days valid"},
    "shares.download": {"es": "Puede descargar", "en": "May download"},
    "shares.watermark": {
        "es": "Mostrar el nombre del destinatario sobre el video",
        "en": "Show the recipient's name over the video",
    },
    "shares.identity": {
        "es": "Incluir la identidad del testigo (nombres de archivo, contacto en el paquete)",
        "en": "Include witness identity (file names, contact in the bundle)",
    },
    "shares.create": {"es": "Compartir", "en": "Share"},
    "shares.list": {"es": "Compartidos", "en": "Shares"},
    "shares.expires": {"es": "Caduca", "en": "Expires"},
    "shares.state": {"es": "Estado", "en": "State"},
    "shares.state_open": {"es": "activo", "en": "open"},
    "shares.state_revoked": {"es": "revocado", "en": "revoked"},
    "shares.state_expired": {"es": "caducado", "en": "expired"},
    "shares.revoke": {"es": "Revocar", "en": "Revoke"},
    "shares.made": {"es": "Compartido", "en": "Share created"},
    "shares.code_once": {
        "es": "Envíe a {recipient} el enlace y, por otro medio, el código. El código se muestra "
        "solo esta vez y sirve para un solo ingreso.",
        "en": "Send {recipient} the link and, by another channel, the code. The code is shown "
        "only this once and opens one sign-in.",
    },
    "shares.link": {"es": "Enlace:", "en": "Link:"},
    "shares.code": {"es": "Código:", "en": "Code:"},
    "shares.back": {"es": "Volver a compartidos", "en": "Back to shares"},
    "share.signin_title": {"es": "Pruebas compartidas", "en": "Shared evidence"},
    "share.signin_intro": {
        "es": "Escriba el código que recibió por separado de este enlace.",
        "en": "Type the code you received separately from this link.",
    },
    "share.code": {"es": "Código", "en": "Code"},
    "share.signin": {"es": "Entrar", "en": "Sign in"},
    "share.bad_code": {
        "es": "El código no es válido. Tras varios intentos fallidos, cada intento debe esperar "
        "un poco más.",
        "en": "That code is not valid. After several failures each try must wait a little longer.",
    },
    "share.items_title": {"es": "Pruebas compartidas con usted", "en": "Evidence shared with you"},
    "share.items_intro": {
        "es": "Compartidas con {recipient} hasta {expires}. Cada vista, reproducción y descarga "
        "queda registrada en la cadena de custodia.",
        "en": "Shared with {recipient} until {expires}. Every view, playback and download is "
        "recorded in the custody log.",
    },
    "share.item": {"es": "Prueba {n}", "en": "Item {n}"},
    "share.download": {"es": "Descargar el original", "en": "Download the original"},
    "share.bundle": {
        "es": "Descargar el paquete verificable para el tribunal",
        "en": "Download the self-verifying court bundle",
    },
    "share.logout": {"es": "Salir", "en": "Sign out"},
    "error.share_revoked": {
        "es": "Este enlace fue revocado y ya no da acceso.",
        "en": "This link was revoked and no longer gives access.",
    },
    "error.share_expired": {
        "es": "Este enlace caducó y ya no da acceso.",
        "en": "This link has expired and no longer gives access.",
    },
    "error.bad_share_code": {
        "es": "Entre con el código que recibió.",
        "en": "Sign in with the code you received.",
    },
    "error.view_only": {
        "es": "Este acceso permite ver, no descargar.",
        "en": "This share is for viewing, not downloading.",
    },
    "event.share.created": {"es": "compartida", "en": "shared"},
    "event.share.revoked": {"es": "compartido revocado", "en": "share revoked"},
    "event.share.signed_in": {"es": "destinatario entró", "en": "recipient signed in"},
    "event.share.sign_in_failed": {"es": "código rechazado", "en": "share code refused"},
    "event.share.listed": {"es": "vista por el destinatario", "en": "listed for the recipient"},
    "event.share.downloaded": {
        "es": "descargada por el destinatario",
        "en": "downloaded by the recipient",
    },
}
