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
