"""The strings of single sign-on through an OpenID provider, in Spanish and English (data;
merged into portal.web.catalogue.CATALOGUE)."""

from __future__ import annotations

OIDC: dict[str, dict[str, str]] = {
    "oidc.button": {"es": "Entrar con {name}", "en": "Sign in with {name}"},
    "oidc.or": {"es": "o con nombre y contraseña", "en": "or with name and password"},
    "oidc.refused": {"es": "No se pudo iniciar sesión", "en": "Sign-in refused"},
    "oidc.done": {"es": "Sesión iniciada", "en": "Signed in"},
    "oidc.signed_out": {
        "es": "Sesión cerrada; ahora también en el proveedor de identidad",
        "en": "Signed out; now at the identity provider too",
    },
    "oidc.continue": {"es": "Continuar", "en": "Continue"},
    "oidc.back": {"es": "Volver a iniciar sesión", "en": "Back to sign-in"},
    "oidc.logged": {
        "es": "El intento quedó registrado en la bitácora de custodia.",
        "en": "The attempt was recorded in the custody log.",
    },
    "oidc.why.unmapped_role": {
        "es": "Su proveedor de identidad no le asigna ningún rol de este portal. Pida a quien "
        "administra las cuentas de su institución que le asigne uno.",
        "en": "Your identity provider gives you no role in this portal. Ask whoever runs your "
        "organisation's accounts to assign you one.",
    },
    "oidc.why.several_roles": {
        "es": "Su proveedor de identidad le asigna varios roles de este portal; debe ser uno.",
        "en": "Your identity provider gives you several roles in this portal; it must be one.",
    },
    "oidc.why.pending": {
        "es": "Su cuenta espera que un administrador del portal confirme su rol de "
        "supervisión o administración.",
        "en": "Your account is waiting for a portal admin to confirm its supervisor or admin role.",
    },
    "oidc.why.disabled": {"es": "Su cuenta está desactivada.", "en": "Your account is disabled."},
    "oidc.why.second_factor_not_asserted": {
        "es": "Su rol requiere un segundo factor, y su proveedor de identidad no indicó "
        "haberlo pedido. Inicie sesión en el proveedor con su segundo factor.",
        "en": "Your role requires a second factor, and your identity provider did not say it "
        "asked for one. Sign in at the provider with your second factor.",
    },
    "oidc.why.name_taken": {
        "es": "Ya existe una cuenta del portal con su nombre de usuario; un administrador "
        "debe resolverlo.",
        "en": "A portal account with your user name already exists; an admin must sort it out.",
    },
    "oidc.why.provider_unreachable": {
        "es": "No se pudo contactar al proveedor de identidad. Intente más tarde.",
        "en": "The identity provider could not be reached. Try again later.",
    },
    "oidc.why.untrusted": {
        "es": "La respuesta del proveedor de identidad no corresponde a un inicio de sesión "
        "de este navegador o no pudo verificarse, y fue rechazada. Vuelva a intentarlo.",
        "en": "The identity provider's answer does not belong to a sign-in from this browser "
        "or could not be verified, so it was refused. Please try again.",
    },
}
