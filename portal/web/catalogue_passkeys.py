"""Spanish and English for the passkey pages and the passkey button at sign-in."""

from __future__ import annotations

PASSKEYS: dict[str, dict[str, str]] = {
    "passkeys.title": {"es": "Llaves de acceso", "en": "Passkeys"},
    "passkeys.intro": {
        "es": "Una llave de acceso (del teléfono, de la computadora o una llave física) sirve "
        "como segundo factor al entrar, junto con su contraseña.",
        "en": "A passkey (on your phone, your computer or a security key) serves as the second "
        "factor at sign-in, together with your password.",
    },
    "passkeys.none": {"es": "Aún no tiene llaves de acceso.", "en": "You have no passkeys yet."},
    "passkeys.name": {"es": "Nombre de la llave", "en": "Passkey name"},
    "passkeys.added": {"es": "Añadida", "en": "Added"},
    "passkeys.used": {"es": "Último uso", "en": "Last used"},
    "passkeys.never": {"es": "nunca", "en": "never"},
    "passkeys.add": {"es": "Añadir una llave de acceso", "en": "Add a passkey"},
    "passkeys.remove": {"es": "Quitar", "en": "Remove"},
    "passkeys.use": {"es": "Entrar con llave de acceso", "en": "Sign in with a passkey"},
    "passkeys.failed": {
        "es": "El navegador no creó ni usó la llave de acceso. Inténtelo de nuevo.",
        "en": "The browser did not create or use the passkey. Try again.",
    },
    "passkeys.unsupported": {
        "es": "Este navegador no admite llaves de acceso.",
        "en": "This browser does not support passkeys.",
    },
}
