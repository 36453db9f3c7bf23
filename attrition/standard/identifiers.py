"""Direct identifiers: which column names and which values the victim-journey standard refuses.

The standard carries pseudonymous case ids only. A column is refused by its **name** (``identifier_name``:
``DateOfBirth``, ``D.O.B.``, ``Postal Code``, ``Mobile No``, ``home_addr``, ``victim_name`` ... but never
``force_name``) or by its **content** (``scan_text``: postcodes, e-mail addresses, UK phone numbers, NHS numbers
with a valid check digit, National Insurance numbers, street addresses, dates of birth and personal names in
free text). Every check works on the distinct values of a column (an event log repeats values a lot), with
compiled regular expressions, and reports *which* values matched, never the values themselves.

The personal-name rule is deliberately conservative: a title (``Mr``, ``Mrs``, ``Ms``, ``Miss``, ``Mx``, ``Dr``)
followed by a capitalised word, or a common UK forename (``forenames.csv``) followed by a capitalised word that is
not a place word (``Street``, ``Road``, ``Police`` ...), or a capitalised word, a comma and such a forename
(``Smith, John``). It misses unusual names; it should not flag ordinary
text.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from . import DOB_TEXT_YEARS, IDENTIFIER_COLUMNS, IDENTIFIER_NAME_PARTS, IDENTIFIER_NAME_SAFE, forenames

__all__ = ["normalise_column", "identifier_name", "scan_text", "nhs_check_digit_ok", "KIND_LABELS"]

#: What each content check looks for, as printed in messages.
KIND_LABELS = {
    "email": "e-mail addresses",
    "postcode": "UK postcodes",
    "phone": "UK phone numbers",
    "nhs_number": "NHS numbers (valid check digit)",
    "ni_number": "National Insurance numbers",
    "address": "street addresses",
    "date_of_birth": "dates of birth",
    "name": "personal names",
}

_JOINED_PARTS = ("dateofbirth", "postcode", "zipcode", "email", "phone", "surname", "forename", "firstname",
                 "lastname", "fullname", "address", "nhsnumber", "ninumber")


def normalise_column(name) -> str:
    """Column name as the standard matches it: camelCase split, lower case, punctuation and spaces to ``_``.

    ``"Case ID"``, ``"CaseID"`` and ``"case-id"`` all give ``"case_id"``; a UTF-8 BOM is dropped.
    """
    text = str(name).strip().lstrip("\ufeff")
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def identifier_name(name: str, *, standard_fields=()) -> bool:
    """Whether a (normalised) column name says it holds direct identifiers.

    Parameters
    ----------
    name : str
        Normalised column name (:func:`normalise_column`).
    standard_fields : iterable of str
        Names never refused (the standard's own fields).
    """
    if name in standard_fields:
        return False
    if name in IDENTIFIER_COLUMNS:
        return True
    words = [w for w in name.split("_") if w]
    if any(w in IDENTIFIER_NAME_PARTS for w in words):
        return True
    joined = "".join(words)
    if joined in ("dob", "nino") or any(p in joined for p in _JOINED_PARTS):
        return True
    if "name" in words or "names" in words:
        return not any(w in IDENTIFIER_NAME_SAFE for w in words)
    return False


# ------------------------------------------------------------------------------------------ content
# Every pattern must run in time linear in a value's length (a 10 MB free-text cell must not hang the reader):
# an unbounded run tried from every start position of a long value is quadratic, so runs that start a match are
# bounded (a local part of at most 64 characters, RFC 5321; a surname of at most 60) - a longer run still
# matches from a later start, so nothing is missed.
_EMAIL = r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
_POSTCODE = (r"\b(?:[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKPSTUW0-9]?) ?[0-9][ABD-HJLNP-UW-Z]{2}\b"
             r"|\b(?:[a-pr-uwyz][a-hk-y]?[0-9][a-hjkpstuw0-9]?) [0-9][abd-hjlnp-uw-z]{2}\b")   # lower case: with the space
_PHONE = r"(?:^|[^0-9+])(?:(?:\+|00)44 ?(?:\(0\))? ?|\(?0)[1237](?:[ \-)]{0,2}[0-9]){9}(?![0-9])"
_NHS = r"(?:^|[^0-9])([0-9]{3})[ \-]?([0-9]{3})[ \-]?([0-9]{4})(?![0-9])"
# an issued prefix (no D, F, I, Q, U, V first; no O second) - or any two letters in the NI number's own spaced
# layout (``QQ 12 34 56 C``, the specimen HMRC prints, is what test and training data hold)
_NI = (r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b"
       r"|\b[A-Z]{2} [0-9]{2} [0-9]{2} [0-9]{2} [A-D]\b")
_STREET_WORDS = ("Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Crescent|Court|Gardens|Place|Terrace|"
                 "Grove|Hill|Park|Square|Mews|Walk|Row|Rise|View|Parade|Green")
_ADDRESS = rf"\b[0-9]{{1,4}}[A-Za-z]? (?:[A-Z][a-z]+ ){{1,3}}(?:{_STREET_WORDS})\b"
_MONTHS = (r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
           r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = (r"(?:[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-](?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}"
         rf"|[0-9]{{1,2}}(?:st|nd|rd|th)? {_MONTHS},? (?:19|20)[0-9]{{2}})")
_DATE_YEAR = (r"(?:[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-]((?:19|20)[0-9]{2})|((?:19|20)[0-9]{2})-[0-9]{2}-[0-9]{2}"
              rf"|[0-9]{{1,2}}(?:st|nd|rd|th)? {_MONTHS},? ((?:19|20)[0-9]{{2}}))")
_DOB_WORDS = r"(?i:\b(?:dob|d\.o\.b\.?|date of birth|born|birthday)\b)"
_NOT_SURNAMES = frozenset(("Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Police", "Station",
                           "Court", "House", "Park", "Hill", "Square", "Place", "Crescent", "Gardens", "Terrace",
                           "Constabulary", "Valley", "Hospital", "School", "College", "Centre", "Center", "Church",
                           "Bridge", "Green", "Road", "Primary", "Academy", "Surgery", "Ward", "Unit"))


@lru_cache(maxsize=1)
def _name_pattern() -> re.Pattern:
    names = sorted(set(forenames()) | {n.upper() for n in forenames()}, key=len, reverse=True)
    return re.compile(
        r"\b(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.? [A-Z][a-z]+"
        r"|(?:" + "|".join(map(re.escape, names)) + r")(?: [A-Z]\.?)? (?P<surname>[A-Z][A-Za-z'\-]+)"
        r"|(?P<surname_first>[A-Z][A-Za-z'\-]{1,60}), (?:" + "|".join(map(re.escape, names)) + r"))\b"
    )


def nhs_check_digit_ok(digits: np.ndarray) -> np.ndarray:
    """Modulus-11 check of NHS numbers.

    Parameters
    ----------
    digits : numpy.ndarray, shape (n, 10)
        Digits of n ten-digit numbers.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True where the tenth digit is the NHS check digit of the first nine (remainder 10 is never valid).
    """
    digits = np.asarray(digits, dtype=np.int64).reshape(-1, 10)
    total = digits[:, :9] @ np.arange(10, 1, -1)
    check = 11 - total % 11
    check = np.where(check == 11, 0, check)
    return (check != 10) & (check == digits[:, 9])


def _names_in(values: pd.Series) -> np.ndarray:
    pat = _name_pattern()
    found = values.str.extractall(pat)
    if found.empty:
        return np.zeros(len(values), dtype=bool)
    sur = found["surname"].where(found["surname"].notna(), found["surname_first"])
    ok = sur.isna() | ~sur.isin(_NOT_SURNAMES)
    hit_idx = found.index.get_level_values(0)[ok.to_numpy()]
    return values.index.isin(hit_idx)


def scan_text(values, *, row_years=None, kinds=None) -> dict[str, np.ndarray]:
    """Which of ``values`` look like direct identifiers, by kind.

    Parameters
    ----------
    values : array-like of str, shape (n,)
        Distinct text values of one column.
    row_years : array-like of float, shape (n,), optional
        Year of the event each value belongs to (for dates decades before it); default: no such check.
    kinds : iterable of str, optional
        Subset of :data:`KIND_LABELS` to check (default all).

    Returns
    -------
    dict
        ``kind -> bool array (n,)`` for the kinds found at least once.

    Notes
    -----
    NHS numbers: ten digits (``943 476 5919`` or ``9434765919``) whose modulus-11 check digit is valid; a column
    counts only when at least half of its ten-digit values pass (random ten-digit references pass 1 time in 11).
    """
    v = pd.Series(np.asarray(values, dtype=object)).astype(str)
    kinds = set(KIND_LABELS) if kinds is None else set(kinds)
    out: dict[str, np.ndarray] = {}
    if not len(v):
        return out

    def put(kind, mask):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            out[kind] = mask

    if "email" in kinds:
        put("email", v.str.contains(_EMAIL, regex=True))
    if "postcode" in kinds:
        put("postcode", v.str.contains(_POSTCODE, regex=True))
    if "phone" in kinds:
        put("phone", v.str.contains(_PHONE, regex=True))
    if "ni_number" in kinds:
        put("ni_number", v.str.contains(_NI, regex=True))
    if "address" in kinds:
        put("address", v.str.contains(_ADDRESS, regex=True))
    if "nhs_number" in kinds:
        g = v.str.extract(_NHS)
        has = g[0].notna().to_numpy()
        if has.any():
            digits = np.frombuffer("".join((g.loc[has, 0] + g.loc[has, 1] + g.loc[has, 2]).tolist()).encode(),
                                   dtype=np.uint8).reshape(-1, 10) - ord("0")
            ok = np.zeros(len(v), dtype=bool)
            ok[has] = nhs_check_digit_ok(digits)
            if ok.sum() >= 0.5 * has.sum():
                put("nhs_number", ok)
    if "date_of_birth" in kinds:
        dob = v.str.contains(_DOB_WORDS + r".{0,12}?" + _DATE, regex=True).to_numpy()
        if row_years is not None:
            g = v.str.extract(_DATE_YEAR)
            yr = pd.to_numeric(g[0].where(g[0].notna(), g[1]).where(lambda x: x.notna(), g[2]),
                               errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                dob |= (np.asarray(row_years, dtype=float) - yr) >= DOB_TEXT_YEARS
        put("date_of_birth", dob)
    if "name" in kinds:
        put("name", _names_in(v))
    return out
