"""Named errors of the domain; the web layer maps each to one JSON shape and a 4xx status."""


class FieldKitError(Exception):
    """Base of every error a user can cause; `code` is the machine word, the message a sentence."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ConfigError(FieldKitError):
    """The environment does not describe a runnable app."""

    code = "config"


class TemplateError(FieldKitError):
    """A checklist template file is broken; the message names the file, the item and the problem."""

    code = "bad_template"


class ValidationError(FieldKitError):
    """Input that is missing, of the wrong type or out of range."""

    code = "invalid"


class NotFound(FieldKitError):
    """The thing does not exist, or the caller may not know that it exists."""

    code = "not_found"
    status = 404


class Forbidden(FieldKitError):
    """The caller is known but their role does not allow this."""

    code = "forbidden"
    status = 403


class Conflict(FieldKitError):
    """The request clashes with what is already stored."""

    code = "conflict"
    status = 409


class TooLarge(FieldKitError):
    """An upload is over the size or pixel limit."""

    code = "too_large"
    status = 413


class UnsupportedMedia(FieldKitError):
    """An upload that is not one of the accepted kinds (photos: JPEG, PNG, WebP, HEIC)."""

    code = "unsupported_media_type"
    status = 415


def has_nul(value) -> bool:
    """Whether a text anywhere in `value` (nested lists, tuples and dicts, keys too) holds the NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(item) for item in value)
    return False


def refuse_nul(value, what: str = "The request") -> None:
    """No person types U+0000 and PostgreSQL cannot store it in text: refuse it clearly, before any write."""
    if has_nul(value):
        raise ValidationError(f"{what} contains the NUL character (U+0000), which no text may hold.", "bad_text")
