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


def text_problem(value) -> str | None:
    """Why text somewhere in `value` (nested lists, tuples and dicts, keys too) cannot be stored, or None.

    No person types U+0000, and a lone surrogate (JSON's "\\ud800" without its pair) is no text at all: no
    database stores either, and one kept in a JSON column breaks every later page that encodes it.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return "contains the NUL character (U+0000), which no text may hold"
        try:
            value.encode()
        except UnicodeEncodeError:
            return "contains a lone surrogate (such as \\ud800), which is not text: the sender has a bug"
        return None
    if isinstance(value, dict):
        return next((why for key, item in value.items() if (why := text_problem(key) or text_problem(item))), None)
    if isinstance(value, (list, tuple)):
        return next((why for item in value if (why := text_problem(item))), None)
    return None


def refuse_bad_text(value, what: str = "The request") -> None:
    """Refuse what `text_problem` finds, clearly and before any write (the web layer checks every request)."""
    why = text_problem(value)
    if why:
        raise ValidationError(f"{what} {why}.", "bad_text")
