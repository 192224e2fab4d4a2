"""Text normalisation and language detection for English, Russian and Kazakh.

People type fast and on phones: no ё, Kazakh written with Russian letters (к for қ, у for ү) or in
Latin script, emoji, stray zero-width characters. ``normalize`` maps all of these onto one
alphabet (lowercase Latin letters, digits and single spaces), so a Kazakh question typed three
different ways becomes the same string, and fuzzy matching only has to deal with real typos.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

LANGUAGES = ("en", "ru", "kk")
DEFAULT_LANGUAGE = "en"

#: Messages are cut to this many characters before any work: no question needs more, and
#: scoring time must not grow with whatever someone pastes.
MAX_MESSAGE_CHARS = 500

#: Letters that only Kazakh uses; one of them is enough to tell Kazakh from Russian.
KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")

# Kazakh letters as people type them without a Kazakh keyboard, and Latin-script Kazakh letters.
_LETTER_FOLDS = str.maketrans(
    {
        "ә": "а",
        "ғ": "г",
        "қ": "к",
        "ң": "н",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "і": "и",
        "ё": "е",
        "ş": "sh",
        "ç": "ch",
        "ı": "i",
        "ä": "a",
        "ğ": "g",
        "ñ": "n",
        "ö": "o",
        "ü": "u",
        "ū": "u",
        "ß": "ss",
    }
)

# Cyrillic to Latin, so that Kazakh and Russian typed in Latin letters meet their Cyrillic forms.
_CYRILLIC_TO_LATIN = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "i",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ф": "f",
        "х": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "sh",
        "ъ": "",
        "ы": "i",
        "ь": "",
        "э": "e",
        "ю": "iu",
        "я": "ia",
        # Latin spellings that Kazakh and Russian writers use for the same sounds.
        "q": "k",
        "j": "zh",
        "w": "v",
        "y": "i",
        "x": "h",
        "'": "",
        "’": "",
        "`": "",
    }
)

_KH = re.compile(r"k+h")  # "kh" is how Latin writers spell х, which becomes "h"
_NOT_WORD = re.compile(r"[\W_]+")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")


def normalize(text: str) -> str:
    """Reduce text to lowercase Latin words separated by single spaces.

    Idempotent (a property test checks it), so the knowledge base and messages can be normalised
    independently and still compare equal.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = text.translate(_LETTER_FOLDS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text).casefold()
    text = text.translate(_CYRILLIC_TO_LATIN)
    text = _KH.sub("h", text)
    text = _NOT_WORD.sub(" ", text)
    text = _REPEATED_LETTER.sub(r"\1\1", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """The words of an already normalised string."""
    return text.split()


def clip(message: str) -> str:
    """Cut a message to MAX_MESSAGE_CHARS characters before scoring."""
    return message[:MAX_MESSAGE_CHARS]


def _script_counts(text: str) -> tuple[int, int, int]:
    """How many Kazakh-only, other Cyrillic and Latin letters the raw text contains."""
    kazakh = cyrillic = latin = 0
    for ch in text:
        if ch in KAZAKH_LETTERS:
            kazakh += 1
        elif "\u0400" <= ch <= "\u04ff":
            cyrillic += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    return kazakh, cyrillic, latin


class LanguageDetector:
    """Guess en/ru/kk from the raw message, using words learnt from the knowledge base.

    Script decides most cases (a Kazakh-only letter means Kazakh; Latin letters mean English unless
    the words are Kazakh or Russian in Latin spelling). Kazakh typed with Russian letters is told
    apart from Russian by vocabulary: a small naive-Bayes model over normalised words.
    """

    def __init__(self, samples: Mapping[str, Iterable[str]]) -> None:
        self._counts: dict[str, Counter[str]] = {}
        for lang in LANGUAGES:
            counter: Counter[str] = Counter()
            for sample in samples.get(lang, ()):
                counter.update(tokens(normalize(sample)))
            self._counts[lang] = counter
        self._totals = {lang: sum(counter.values()) for lang, counter in self._counts.items()}
        self._vocabulary = len(set().union(*self._counts.values())) + 1

    def word_scores(self, text: str) -> dict[str, float]:
        """Log-likelihood of the message's words under each language (higher is likelier)."""
        scores = dict.fromkeys(LANGUAGES, 0.0)
        for word in tokens(normalize(text)):
            if word.isdigit() or not any(self._counts[lang][word] for lang in LANGUAGES):
                continue
            for lang in LANGUAGES:
                count = self._counts[lang][word]
                scores[lang] += math.log((count + 0.1) / (self._totals[lang] + self._vocabulary))
        return scores

    def detect(self, text: str, default: str = DEFAULT_LANGUAGE) -> str:
        """The message's language; ``default`` when there is nothing to go on."""
        kazakh, cyrillic, latin = _script_counts(text)
        if kazakh:
            return "kk"
        scores = self.word_scores(text)
        if cyrillic >= latin and cyrillic:
            return "kk" if scores["kk"] > scores["ru"] else "ru"
        if latin:
            best = max(LANGUAGES, key=lambda lang: scores[lang])
            # Latin-script Kazakh and Russian must win clearly over English to be believed.
            if best != "en" and scores[best] - scores["en"] > 2.0:
                return best
            return "en"
        return default
