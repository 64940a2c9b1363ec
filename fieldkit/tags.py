"""Asset tags: short, unambiguous codes with a check character, unique across the whole database.

A tag is six characters from a 31-character alphabet (no 0/O, 1/I/L) followed by one check
character. The check character makes the weighted sum  sum(position * value)  over all seven
characters (positions 1..7) a multiple of 31. Because 31 is prime and every weight is between 1
and 7, a single mistyped character changes the sum by weight * difference, which is never a
multiple of 31; swapping two neighbours changes it by the difference of their values, which is
never a multiple of 31 either. So both mistakes are always detected (tests/test_tags.py proves it).
"""
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ValidationError
from .models import Asset

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BODY_LENGTH = 6
LENGTH = BODY_LENGTH + 1
VALUES = {char: value for value, char in enumerate(ALPHABET)}
PRIME = len(ALPHABET)  # 31
SEPARATORS = " -_.\t"
NEVER_USED = "0O1IL"
ATTEMPTS = 20


def check_char(body: str) -> str:
    """The check character that completes `body` (six alphabet characters) into a valid tag."""
    total = sum(position * VALUES[char] for position, char in enumerate(body, 1))
    # Find c with total + LENGTH * c ≡ 0 (mod 31): multiply by the inverse of LENGTH.
    return ALPHABET[(-total * pow(LENGTH, -1, PRIME)) % PRIME]


def is_valid(tag: str) -> bool:
    """True for a normalised tag whose check character matches."""
    if len(tag) != LENGTH or any(char not in VALUES for char in tag):
        return False
    return sum(position * VALUES[char] for position, char in enumerate(tag, 1)) % PRIME == 0


def normalise(typed: str) -> str:
    """Typed or scanned input as a tag: upper case, without spaces, dashes, underscores or dots.

    Nothing else is guessed: 0, O, 1, I and L never occur in tags, and each could stand for more
    than one character, so they are left for `parse` to refuse with a clear message.
    """
    return "".join(char for char in typed.upper() if char not in SEPARATORS)


def parse(typed: str) -> str:
    """A valid tag from what a person typed, or a ValidationError that says what is wrong with it."""
    if not isinstance(typed, str):
        raise ValidationError("A tag is text, for example 'K7MX2QE'.", "bad_tag")
    tag = normalise(typed)[:40]
    shown = typed.strip()[:40]
    if len(tag) != LENGTH:
        raise ValidationError(f"'{shown}' is not a tag: tags have {LENGTH} characters, for example K7MX2QE.",
                       "bad_tag")
    wrong = sorted({char for char in tag if char not in VALUES})
    if wrong:
        hint = " (tags never use 0, O, 1, I or L)" if set(wrong) & set(NEVER_USED) else ""
        raise ValidationError(f"'{shown}' is not a tag: it contains {', '.join(wrong)}{hint}.", "bad_tag")
    if not is_valid(tag):
        raise ValidationError(f"'{shown}' is not a tag: the check character (the last one) does not match, "
                       "so a character was probably mistyped.", "bad_check_char")
    return tag


def random_tag() -> str:
    """A random valid tag (not yet checked against the database)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_char(body)


def new_tag(session: Session, taken: set[str] | None = None) -> str:
    """A fresh tag no asset uses yet (and not in `taken`); retries on the rare collision."""
    for _ in range(ATTEMPTS):
        tag = random_tag()
        if taken and tag in taken:
            continue
        if session.execute(select(Asset.id).where(Asset.tag == tag)).first() is None:
            return tag
    raise RuntimeError("Could not find a free tag; the tag space is nearly full.")
