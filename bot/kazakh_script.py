"""Latin-script Kazakh to Cyrillic, for the sentence encoder.

The encoder learnt Kazakh mostly from Cyrillic text, so "men ozimdi oltirgim keledi" or
"men özimdi öltirgim keledi" means much less to it than "мен өзімді өлтіргім келеді". Before
embedding, a message detected as Kazakh and written mostly in Latin letters is spelt in Cyrillic:
the 2021 alphabet letter by letter (ä ğ ı ñ ö q ş ū ü), and the common ASCII habits (sh, ch,
zh, gh, ng) as well as can be. Kazakh typed with Russian letters (к for қ, у for ү) is left as it
is: the encoder reads it nearly as well as proper Kazakh, and restoring the letters would need a
dictionary (кол is both "hand" and "lake").
"""

from __future__ import annotations

import re

# Digraphs first (longest match), then single letters.
_DIGRAPHS = {
    "sh": "ш",
    "ch": "ч",
    "zh": "ж",
    "gh": "ғ",
    "kh": "х",
    "ya": "я",
    "yu": "ю",
    "yo": "ё",
    "ts": "ц",
}
_LETTERS = {
    "a": "а",
    "ä": "ә",
    "á": "ә",
    "b": "б",
    "c": "с",
    "d": "д",
    "e": "е",
    "f": "ф",
    "g": "г",
    "ğ": "ғ",
    "ǵ": "ғ",
    "h": "х",
    "ı": "ы",
    "i": "і",
    "j": "ж",
    "k": "к",
    "l": "л",
    "m": "м",
    "n": "н",
    "ñ": "ң",
    "ń": "ң",
    "o": "о",
    "ö": "ө",
    "ó": "ө",
    "p": "п",
    "q": "қ",
    "r": "р",
    "s": "с",
    "ş": "ш",
    "ç": "ч",
    "t": "т",
    "u": "ұ",
    "ū": "у",
    "ü": "ү",
    "ú": "ү",
    "v": "в",
    "w": "у",
    "x": "х",
    "y": "ы",
    "z": "з",
}
_VOWELS = frozenset("aäáeıioöóuūüúy")
_WORD = re.compile(r"[^\W\d_]+")
#: A message counts as Latin-script when at least this share of its letters are Latin.
LATIN_SHARE = 0.6


def is_mostly_latin(text: str) -> bool:
    """Whether most letters of the message are Latin (so it may be Latin-script Kazakh)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    latin = sum(1 for ch in letters if ch.lower() in _LETTERS or "a" <= ch.lower() <= "z")
    return latin / len(letters) >= LATIN_SHARE


def _word_to_cyrillic(word: str) -> str:
    lower = word.lower()
    out: list[str] = []
    i = 0
    while i < len(lower):
        pair = lower[i : i + 2]
        if pair == "ng" and (i + 2 == len(lower) or lower[i + 2] not in _VOWELS):
            out.append("ң")  # "ng" before a consonant or at the end is ң (tyñdau, meniñ)
            i += 2
            continue
        if pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
            continue
        ch = lower[i]
        if ch in "yi" and i > 0 and lower[i - 1] in _VOWELS:
            out.append("й")  # after a vowel, y and i are й (qalay, oylaymyn, tyndamaidy)
        elif ch == "u" and i > 0 and lower[i - 1] in _VOWELS:
            out.append("у")  # after a vowel, u is у (qońyrau, tyñdau)
        else:
            out.append(_LETTERS.get(ch, ch))
        i += 1
    return "".join(out)


def latin_to_cyrillic(text: str) -> str:
    """Spell Latin-script Kazakh in Cyrillic; other characters (digits, emoji) are kept."""
    return _WORD.sub(lambda match: _word_to_cyrillic(match.group()), text)
