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
from collections.abc import Callable, Iterable, Mapping

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


class _LazyTable(dict[int, str | None]):
    """A ``str.translate`` table filled in on first sight of each character.

    ``translate`` runs in C and only calls back for a character it has not seen, so per-character
    Unicode lookups cost once per distinct character instead of once per character.
    """

    _LIMIT = 50_000  # distinct characters remembered; beyond that, computed every time

    def __init__(self, rule: Callable[[str], str | None]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, codepoint: int) -> str | None:
        result = self._rule(chr(codepoint))
        if len(self) < self._LIMIT:
            self[codepoint] = result
        return result


_INVISIBLE_CATEGORIES = {"Cc": " ", "Cf": "", "Cs": "", "Co": "", "Cn": ""}
# Invisible format characters (zero-width, bidi marks) vanish; control characters separate words.
_INVISIBLE = _LazyTable(lambda ch: _INVISIBLE_CATEGORIES.get(unicodedata.category(ch), ch))
# Accents and other combining marks, once split off by NFKD, are dropped (é -> e, й -> и).
_COMBINING = _LazyTable(lambda ch: "" if unicodedata.combining(ch) else ch)
_KH = re.compile(r"k+h")  # "kh" is how Latin writers spell х, which becomes "h"
_NOT_WORD = re.compile(r"[\W_]+")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")


def normalize(text: str) -> str:
    """Reduce text to lowercase Latin words separated by single spaces.

    Idempotent (a property test checks it), so the knowledge base and messages can be normalised
    independently and still compare equal.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_INVISIBLE)
    text = text.translate(_LETTER_FOLDS)
    text = unicodedata.normalize("NFKD", text).translate(_COMBINING)
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
    """Guess en/ru/kk from the raw message, using text learnt from the knowledge base.

    Script decides most cases: a Kazakh-only letter means Kazakh. Otherwise a small naive-Bayes
    model over normalised words and letter trigrams decides; trigrams catch Kazakh typed with
    Russian letters ("колымды кесип журмин") by its endings even when no word is known.
    """

    def __init__(self, samples: Mapping[str, Iterable[str]]) -> None:
        self._words: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
        self._trigrams: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
        for lang in LANGUAGES:
            for sample in samples.get(lang, ()):
                text = normalize(sample)
                self._words[lang].update(tokens(text))
                self._trigrams[lang].update(_trigrams(text))
        self._word_model = _NaiveBayes(self._words)
        self._trigram_model = _NaiveBayes(self._trigrams)

    def scores(self, normalized: str) -> dict[str, float]:
        """Log-likelihood of a normalised message under each language (higher is likelier)."""
        words = [word for word in tokens(normalized) if not word.isdigit()]
        word_scores = self._word_model.score(words, known_only=True)
        trigram_scores = self._trigram_model.score(_trigrams(normalized), known_only=True)
        return {
            lang: word_scores[lang] + TRIGRAM_WEIGHT * trigram_scores[lang] for lang in LANGUAGES
        }

    def detect(
        self, text: str, default: str = DEFAULT_LANGUAGE, *, normalized: str | None = None
    ) -> str:
        """The message's language; ``default`` when there is nothing to go on.

        ``normalized`` may pass ``normalize(text)`` when the caller already has it.
        """
        kazakh, cyrillic, latin = _script_counts(text)
        if kazakh:
            return "kk"
        if not cyrillic and not latin:
            return default
        if normalized is None:
            normalized = normalize(text)
        scores = self.scores(normalized)
        if cyrillic >= latin:
            # Grammar words decide mixed messages: "день защиты детей кашан болады" is Kazakh
            # with a Russian name in it, because its question words are Kazakh.
            words = tokens(normalized)
            kazakh_grammar = sum(word in _KAZAKH_GRAMMAR for word in words)
            russian_grammar = sum(word in _RUSSIAN_GRAMMAR for word in words)
            if kazakh_grammar != russian_grammar:
                return "kk" if kazakh_grammar > russian_grammar else "ru"
            return "kk" if scores["kk"] > scores["ru"] else "ru"
        best = max(LANGUAGES, key=lambda lang: scores[lang])
        # Latin-script Kazakh and Russian must win clearly over English to be believed.
        if best != "en" and scores[best] - scores["en"] > LATIN_MARGIN:
            return best
        return "en"


#: Kazakh and Russian function words (question words, particles): a closed class that shows the
#: grammar a message is written in, whatever nouns it borrows.
_KAZAKH_GRAMMAR = frozenset(
    normalize(word)
    for word in [
        "деген",
        "қашан",
        "ма",
        "ме",
        "ба",
        "бе",
        "па",
        "пе",
        "қандай",
        "қалай",
        "қайда",
        "неше",
        "қанша",
        "айтшы",
        "жоқ",
        "керек",
        "болады",
        "бола",
        "үшін",
        "туралы",
        "және",
        "мен",
        "сен",
        "нөмірі",
        "номери",
        "қай",
        "неге",
    ]
)
_RUSSIAN_GRAMMAR = frozenset(
    normalize(word)
    for word in [
        "что",
        "как",
        "когда",
        "где",
        "это",
        "и",
        "в",
        "на",
        "ли",
        "можно",
        "есть",
        "какой",
        "какая",
        "какие",
        "сколько",
        "почему",
        "зачем",
        "или",
        "для",
        "про",
        "о",
        "об",
        "у",
        "с",
        "по",
        "за",
        "из",
        "от",
        "мне",
        "меня",
        "я",
        "ты",
        "кто",
        "чем",
        "чего",
    ]
)
#: How much letter trigrams count next to whole words in language detection.
TRIGRAM_WEIGHT = 0.2
#: How much likelier Kazakh or Russian must be than English for a Latin-script message.
LATIN_MARGIN = 3.0


def _trigrams(text: str) -> list[str]:
    return [
        padded[i : i + 3]
        for word in tokens(text)
        for padded in [f" {word} "]
        for i in range(len(padded) - 2)
    ]


class _NaiveBayes:
    """Per-language smoothed frequencies of features (words or trigrams)."""

    def __init__(self, counts: Mapping[str, Counter[str]]) -> None:
        self._counts = counts
        vocabulary = len(set().union(*counts.values())) + 1
        self._denominators = {
            lang: sum(counter.values()) + vocabulary for lang, counter in counts.items()
        }

    def score(self, features: Iterable[str], *, known_only: bool) -> dict[str, float]:
        scores = dict.fromkeys(LANGUAGES, 0.0)
        for feature in features:
            if known_only and not any(self._counts[lang][feature] for lang in LANGUAGES):
                continue
            for lang in LANGUAGES:
                count = self._counts[lang][feature] + 0.1
                scores[lang] += math.log(count / self._denominators[lang])
        return scores
