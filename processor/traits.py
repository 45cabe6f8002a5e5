"""Person traits as pure functions: normalising the well-known ones, and picking traits out of event properties.

`normalize_traits` cleans the traits an identify (or a trait mapping) carries:

- `email`: trimmed and lower-cased (`mailto:` and a `Name <address>` wrapper removed);
  kept only if it looks like an address, else dropped.
- `firstName` / `lastName` (also `first_name` / `last_name`, Segment's camelCase wins):
  trimmed, inner whitespace collapsed, Unicode NFC; dropped when empty or not text.
- `phone`: E.164 (`+4930901820`) when it parses as a valid number, using `default_region`
  (ISO 3166 alpha-2, e.g. the country geo enrichment found) for numbers written without
  a country code; dropped otherwise.
- consent: a `consent` object and/or dotted keys (`consent.email`, `consent.sms`) become
  one nested object of booleans, `{"consent": {"email": True}}`; values that say neither
  yes nor no are dropped.

A well-known trait whose value cannot be normalised (None included) is dropped rather
than failing the event: traits are best-effort, events are not. Every other trait passes
through unchanged.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers

EMAIL = "email"
FIRST_NAME = "firstName"
LAST_NAME = "lastName"
PHONE = "phone"
CONSENT = "consent"

_NAME_ALIASES = {"first_name": FIRST_NAME, "last_name": LAST_NAME}
_CONSENT_PREFIX = CONSENT + "."

MAX_EMAIL_LENGTH = 254
"""RFC 5321's limit on a forward path; longer "addresses" are junk."""

# Deliberately loose: one @, no whitespace or separators, a dotted domain ending in a
# letter TLD (or punycode). Unicode local parts and domains are allowed; a stricter
# RFC 5322 check would refuse real addresses people type into forms.
_EMAIL_PATTERN = re.compile(
    r"""[^@\s"(),:;<>\[\\\]]+"""          # local part
    r"@(?:[^\W_](?:[\w-]*[^\W_])?\.)+"    # domain labels
    r"(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)",   # TLD
)

_TRUE = frozenset({"true", "yes", "y", "1", "granted", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "denied", "off"})


def normalize_traits(traits: Mapping[str, Any], *, default_region: str | None = None) -> dict[str, Any]:
    """The traits with the well-known ones normalised (see the module docstring); never raises for bad values."""
    result: dict[str, Any] = {}
    consent: dict[str, bool] = {}
    dotted_consent: dict[str, bool] = {}
    for key, value in traits.items():
        if key == EMAIL:
            _keep(result, EMAIL, normalize_email(value))
        elif key in (FIRST_NAME, LAST_NAME):
            _keep(result, key, normalize_name(value))
        elif key in _NAME_ALIASES:
            # The camelCase spelling wins whatever the order of keys.
            if _NAME_ALIASES[key] not in traits:
                _keep(result, _NAME_ALIASES[key], normalize_name(value))
        elif key == PHONE:
            _keep(result, PHONE, normalize_phone(value, default_region))
        elif key == CONSENT:
            if isinstance(value, Mapping):
                consent.update(_consent_flags(value.items()))
        elif key.startswith(_CONSENT_PREFIX):
            dotted_consent.update(_consent_flags([(key[len(_CONSENT_PREFIX):], value)]))
        else:
            result[key] = value
    # A dotted key is the more specific statement, so it overrides the object's flag.
    consent.update(dotted_consent)
    if consent:
        result[CONSENT] = consent
    return result


def mapped_traits(properties: Mapping[str, Any], mappings: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The traits that (property dotted path, trait name) mappings find in an event's properties.

    A path is first looked up as a literal top-level key (`"consent.email"` sent flat),
    then walked through nested objects (and list indexes: `items.0.email`). Missing paths
    and null values are skipped, so a blank form field never clears a trait. When two
    mappings name the same trait, the first one found wins. The result is raw: pass it
    through `normalize_traits` like identify traits.
    """
    found: dict[str, Any] = {}
    for path, trait in mappings:
        if trait in found:
            continue
        value = property_at(properties, path)
        if value is not None:
            found[trait] = value
    return found


def property_at(properties: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path in the properties, or None when any step is missing."""
    if path in properties:
        return properties[path]
    current: Any = properties
    for step in path.split("."):
        if isinstance(current, Mapping):
            if step not in current:
                return None
            current = current[step]
        elif isinstance(current, list) and step.isdecimal() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
    return current


def normalize_email(value: Any) -> str | None:
    """The address trimmed and lower-cased, or None when it does not look like an address."""
    if not isinstance(value, str):
        return None
    address = unicodedata.normalize("NFC", value.strip()).lower()
    address = address.removeprefix("mailto:")
    if address.endswith(">") and "<" in address:
        # "Ada Lovelace <ada@example.com>", as mail clients and some CRMs export contacts.
        address = address[address.rindex("<") + 1:-1].strip()
    if len(address) > MAX_EMAIL_LENGTH or not _EMAIL_PATTERN.fullmatch(address):
        return None
    return address


def normalize_name(value: Any) -> str | None:
    """A person's name trimmed, inner whitespace collapsed, in NFC; None when empty or not text."""
    if not isinstance(value, str):
        return None
    # NFC so that "José" typed on a Mac (decomposed) equals "José" typed elsewhere, and search finds both.
    name = " ".join(unicodedata.normalize("NFC", value).split())
    return name or None


def normalize_phone(value: Any, default_region: str | None = None) -> str | None:
    """The number in E.164, or None when it is not a valid phone number.

    Numbers written without a country code need `default_region` (ISO 3166 alpha-2);
    an unknown region counts as none. An integer is first read as an international number
    whose "+" was lost, then as a national one.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    if not text or len(text) > 64:
        return None
    region = (default_region or "").strip().upper() or None
    if region not in phonenumbers.SUPPORTED_REGIONS:
        region = None
    if isinstance(value, int) and value > 0:
        # A number stored as an integer lost its "+" (and could not keep a national "0"),
        # so it most likely starts with its country code.
        international = _valid_e164("+" + text, None)
        if international is not None:
            return international
    # "00" is the international prefix in most of the world; without a region libphonenumber cannot know it.
    if region is None and text.startswith("00"):
        text = "+" + text[2:]
    return _valid_e164(text, region)


def _valid_e164(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def consent_flag(value: Any) -> bool | None:
    """True/False for the ways forms and SDKs say yes or no (yes/no, granted/denied, 1/0, ...); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _consent_flags(items: Iterable[tuple[Any, Any]]) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for channel, value in items:
        if not isinstance(channel, str) or not channel.strip():
            continue
        flag = consent_flag(value)
        if flag is not None:
            flags[channel.strip()] = flag
    return flags


def _keep(result: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        result[key] = value
