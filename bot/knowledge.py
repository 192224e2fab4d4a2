"""Load and validate the YAML knowledge base into immutable objects.

Content editors are not programmers, so the loader never stops at the first mistake: it collects
every problem as ``file:line: entry-id: what is wrong`` and raises them together. A knowledge base
with any error never half-loads, because a bot that silently lost its helpline entry is worse than
a bot that refuses to start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.text import LANGUAGES

#: Telegram refuses messages longer than this many characters.
TELEGRAM_MESSAGE_LIMIT = 4096
#: Room kept for the source lines and markup that the bot adds to every answer.
ANSWER_LIMIT = TELEGRAM_MESSAGE_LIMIT - 600
#: Telegram shows long button labels cut off; the first question of an entry is its button label.
BUTTON_TITLE_LIMIT = 64
MIN_QUESTIONS_PER_LANGUAGE = 5
#: Facts and phone numbers go stale; entries not reviewed for longer than this are flagged.
STALE_AFTER = timedelta(days=365)

ENTRY_KINDS = ("faq", "smalltalk")
ENTRY_KEYS = {"id", "questions", "answer", "details", "sources", "reviewed", "related", "kind"}
SOURCE_KEYS = {"title", "url"}
URL_PATTERN = re.compile(r"^https?://\S+$")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: Ids travel in Telegram button data (64 bytes, of which the bot's own prefix takes up to 14).
MAX_ID_LENGTH = 50

#: Every interface string the front ends use; each must exist in every language.
UI_KEYS = (
    "greeting",
    "help",
    "about",
    "hotlines",
    "crisis",
    "fallback",
    "helpline_line",
    "clarify",
    "not_sure_note",
    "source_label",
    "non_text",
    "slow_down",
    "chat_hidden",
    "chat_hidden_partly",
    "forgotten",
    "forgotten_partly",
    "forgotten_group",
    "hide_group",
    "stale_button",
    "topics_heading",
    "topic_questions_heading",
    "choose_language",
    "language_set",
    "language_name",
    "inline_no_results",
    "inline_hint",
    "group_hint",
    "error",
    "button_topics",
    "button_hotlines",
    "button_language",
    "button_back",
    "button_hide_chat",
    "button_all_topics",
    "cmd_start",
    "cmd_topics",
    "cmd_hotline",
    "cmd_language",
    "cmd_about",
    "cmd_forget",
    "cmd_help",
)
UI_FILE = "ui.yaml"
SAFETY_FILE = "safety.yaml"
CRISIS_REPLIES_FILE = "crisis_replies.yaml"
#: The kinds of danger a crisis reply is written for (``category`` in the JSON contract), plus
#: ``concern``: a gentle check-in when the signal is real but weak.
CRISIS_CATEGORIES = (
    "danger_now",
    "violence",
    "sexual_abuse",
    "online_exploitation",
    "suicide_self_harm",
    "runaway_neglect",
    "bullying",
    "friend",
    "adult_report",
)
CONCERN = "concern"
#: Short crisis texts that are not a reply to one kind of danger.
CRISIS_NOTICES = ("crisis_reminder", "crisis_group")


@dataclass(frozen=True)
class Source:
    """A citation the user can follow: its title in every language, and a link per language.

    A source published in one language has the same link in all three; one with language
    versions (adilet.zan.kz has rus/kaz/eng) links each reader to their own.
    """

    titles: Mapping[str, str]
    urls: Mapping[str, str]

    def title(self, lang: str) -> str:
        return self.titles[lang]

    def url(self, lang: str) -> str:
        return self.urls[lang]


@dataclass(frozen=True)
class Entry:
    """One question-and-answer pair, in every language."""

    id: str
    topic_id: str
    kind: str
    questions: Mapping[str, tuple[str, ...]]
    answers: Mapping[str, str]
    #: Details for parents and teachers, shown after the answer as a paragraph of its own; the
    #: answer itself is written for a child. Empty when the entry has none.
    details: Mapping[str, str]
    sources: tuple[Source, ...]
    reviewed: date
    related: tuple[str, ...]
    location: str = field(compare=False)

    def title(self, lang: str) -> str:
        """The entry's first question: its label on buttons and in suggestions."""
        return self.questions[lang][0]


@dataclass(frozen=True)
class Topic:
    """A group of entries, shown as one button in /topics."""

    id: str
    order: int
    titles: Mapping[str, str]
    entry_ids: tuple[str, ...]

    def title(self, lang: str) -> str:
        return self.titles[lang]


@dataclass(frozen=True)
class SafetyPatterns:
    """Crisis phrases and the words that mark a question *about* a subject (see bot/safety.py)."""

    crisis: Mapping[str, tuple[str, ...]]
    asking_about: Mapping[str, tuple[str, ...]]
    #: Words that make a message first-person ("me", "мне", "маған"): asking-about words never
    #: hold back a phrase in such a message ("can you help, my dad hits me").
    first_person: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Words that show an adult writing about a child: their crisis reply is the one for adults.
    adult_speaker: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the bot knows, validated and read-only."""

    topics: tuple[Topic, ...]
    entries: Mapping[str, Entry]
    ui: Mapping[str, Mapping[str, str]]
    safety: SafetyPatterns
    #: Crisis replies by category (and the crisis notices), each in every language.
    crisis_replies: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def entry(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def topic(self, topic_id: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.id == topic_id), None)

    def text(self, key: str, lang: str) -> str:
        """An interface string; keys are validated at load time, so this never misses."""
        return self.ui[key][lang]

    def crisis_text(self, key: str, lang: str) -> str:
        """A crisis reply (by category) or crisis notice; validated at load time."""
        return self.crisis_replies[key][lang]

    def browsable_topics(self) -> tuple[Topic, ...]:
        """Topics worth listing in /topics (small talk is not a topic anyone browses)."""
        return tuple(
            topic
            for topic in self.topics
            if any(self.entries[eid].kind == "faq" for eid in topic.entry_ids)
        )


class KnowledgeError(Exception):
    """The knowledge base has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _LineDict(dict):
    """A mapping that remembers the line of each key, for error messages."""

    line: int = 0
    key_lines: dict[str, int]


# libyaml's parser is ten times faster than PyYAML's pure-Python one, and keeps line marks.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """A safe loader whose mappings remember their line numbers."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {
        str(key_node.value): key_node.start_mark.line + 1 for key_node, _ in node.value
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def default_knowledge_dir() -> Path:
    """Where the knowledge base is: the repository's ``knowledge/`` or the copy in the wheel."""
    package_dir = Path(__file__).resolve().parent
    checkout = package_dir.parent / "knowledge"
    if checkout.is_dir():
        return checkout
    return package_dir / "knowledge_base"


def load_knowledge(directory: Path | None = None, *, today: date | None = None) -> KnowledgeBase:
    """Load every YAML file in ``directory``; raise KnowledgeError listing all problems."""
    directory = directory or default_knowledge_dir()
    collector = _Collector(directory, today or date.today())
    return collector.build()


class _Collector:
    """Reads the files and accumulates problems; ``build()`` succeeds only if there are none."""

    def __init__(self, directory: Path, today: date) -> None:
        self.directory = directory
        self.today = today
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.entries: dict[str, Entry] = {}
        self.topics: list[Topic] = []
        self.related_checks: list[tuple[str, str, tuple[str, ...]]] = []
        self.topic_ids: set[str] = set()
        self.ui: dict[str, dict[str, str]] = {}
        self.safety: SafetyPatterns | None = None
        self.crisis_replies: dict[str, dict[str, str]] = {}

    def problem(self, where: str, entry_id: str, message: str) -> None:
        self.problems.append(f"{where}: {entry_id}: {message}")

    def build(self) -> KnowledgeBase:
        if not self.directory.is_dir():
            raise KnowledgeError([f"{self.directory}: -: knowledge directory not found"])
        files = sorted(self.directory.glob("*.yaml"))
        if not files:
            raise KnowledgeError([f"{self.directory}: -: no .yaml files found"])
        unreadable = 0
        for path in files:
            data = self._parse(path)
            if data is None:
                unreadable += 1
                continue
            if path.name == UI_FILE:
                self._read_ui(path, data)
            elif path.name == SAFETY_FILE:
                self._read_safety(path, data)
            elif path.name == CRISIS_REPLIES_FILE:
                self._read_crisis_replies(path, data)
            else:
                self._read_topic_file(path, data)
        if not unreadable:
            # A file that cannot be read hides its ids; "related id does not exist" would be noise.
            self._check_related()
        if not self.ui and not any(p.endswith(UI_FILE) for p in map(str, files)):
            self.problem(str(self.directory / UI_FILE), "-", "file is missing")
        if self.safety is None and not any(path.name == SAFETY_FILE for path in files):
            self.problem(str(self.directory / SAFETY_FILE), "-", "file is missing")
        if not self.crisis_replies and not any(path.name == CRISIS_REPLIES_FILE for path in files):
            self.problem(str(self.directory / CRISIS_REPLIES_FILE), "-", "file is missing")
        if self.problems:
            raise KnowledgeError(self.problems)
        assert self.safety is not None
        return KnowledgeBase(
            topics=tuple(sorted(self.topics, key=lambda topic: (topic.order, topic.id))),
            entries=MappingProxyType(dict(self.entries)),
            ui=MappingProxyType({key: MappingProxyType(v) for key, v in self.ui.items()}),
            safety=self.safety,
            crisis_replies=MappingProxyType(
                {key: MappingProxyType(v) for key, v in self.crisis_replies.items()}
            ),
            warnings=tuple(self.warnings),
        )

    def _parse(self, path: Path) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.problem(str(path), "-", f"cannot read file: {error}")
            return None
        try:
            data = yaml.load(text, Loader=_LineLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 0
            self.problem(f"{path}:{line}", "-", f"YAML syntax error: {error.problem}")
            return None
        except yaml.YAMLError as error:
            self.problem(str(path), "-", f"YAML error: {error}")
            return None
        if not isinstance(data, _LineDict):
            self.problem(f"{path}:1", "-", "the file must be a mapping (key: value) at the top")
            return None
        return data

    # --- topic files -----------------------------------------------------------------------

    def _read_topic_file(self, path: Path, data: _LineDict) -> None:
        topic_data = data.get("topic")
        where = f"{path}:{data.line}"
        if not isinstance(topic_data, _LineDict):
            self.problem(where, "-", "missing 'topic:' with id, order and title")
            return
        topic_where = f"{path}:{topic_data.line}"
        topic_id = topic_data.get("id")
        if not isinstance(topic_id, str) or not ID_PATTERN.match(topic_id):
            self.problem(topic_where, "topic", "topic.id must be lowercase-words-with-dashes")
            topic_id = f"?{path.stem}"
        elif len(topic_id) > MAX_ID_LENGTH:
            self.problem(topic_where, topic_id, f"id is longer than {MAX_ID_LENGTH} characters")
        elif topic_id in self.topic_ids:
            self.problem(topic_where, topic_id, "duplicate topic id")
        self.topic_ids.add(topic_id)
        order = topic_data.get("order")
        if not isinstance(order, int) or isinstance(order, bool):
            self.problem(topic_where, topic_id, "topic.order must be a whole number")
            order = 0
        titles = self._languages(path, topic_data.get("title"), topic_data, "title", topic_id)
        raw_entries = data.get("entries")
        if not isinstance(raw_entries, list) or not raw_entries:
            self.problem(where, topic_id, "'entries:' must be a non-empty list")
            return
        entry_ids = []
        for raw in raw_entries:
            entry = self._read_entry(path, raw, topic_id)
            if entry is not None:
                entry_ids.append(entry.id)
        self.topics.append(Topic(topic_id, order, MappingProxyType(titles), tuple(entry_ids)))

    def _read_entry(self, path: Path, raw: Any, topic_id: str) -> Entry | None:
        if not isinstance(raw, _LineDict):
            self.problem(f"{path}", "-", f"an entry in topic {topic_id} is not a mapping")
            return None
        where = f"{path}:{raw.line}"
        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
            self.problem(where, str(entry_id), "id must be lowercase-words-with-dashes")
            return None
        if len(entry_id) > MAX_ID_LENGTH:
            self.problem(where, entry_id, f"id is longer than {MAX_ID_LENGTH} characters")
        problems_before = len(self.problems)
        for key in sorted(set(raw) - ENTRY_KEYS):
            self.problem(self._at(path, raw, key), entry_id, f"unknown field '{key}'")
        if entry_id in self.entries:
            first = self.entries[entry_id].location
            self.problem(where, entry_id, f"duplicate id (first defined at {first})")
        kind = raw.get("kind", "faq")
        if kind not in ENTRY_KINDS:
            self.problem(
                self._at(path, raw, "kind"), entry_id, f"kind must be one of {ENTRY_KINDS}"
            )
        questions = self._questions(path, raw, entry_id)
        answers = self._languages(path, raw.get("answer"), raw, "answer", entry_id)
        details: dict[str, str] = {}
        if "details" in raw:
            details = self._languages(path, raw["details"], raw, "details", entry_id)
        for lang, answer in answers.items():
            length = len(answer) + len(details.get(lang, ""))
            if length > ANSWER_LIMIT:
                with_details = f" ({length} with its details)" if details.get(lang) else ""
                self.problem(
                    self._at(path, raw, "answer"),
                    entry_id,
                    f"answer.{lang} is {len(answer)} characters{with_details}; "
                    f"the limit is {ANSWER_LIMIT}",
                )
        sources = self._sources(path, raw, entry_id, required=kind == "faq")
        reviewed = self._reviewed(path, raw, entry_id)
        related = self._related(path, raw, entry_id)
        if len(self.problems) > problems_before:
            return None
        entry = Entry(
            id=entry_id,
            topic_id=topic_id,
            kind=kind,
            questions=MappingProxyType(questions),
            answers=MappingProxyType(answers),
            details=MappingProxyType(details),
            sources=sources,
            reviewed=reviewed,
            related=related,
            location=where,
        )
        self.entries[entry_id] = entry
        self.related_checks.append((self._at(path, raw, "related"), entry_id, related))
        return entry

    def _at(self, path: Path, mapping: _LineDict, key: str) -> str:
        return f"{path}:{mapping.key_lines.get(key, mapping.line)}"

    def _languages(
        self, path: Path, value: Any, parent: _LineDict, key: str, owner: str, prefix: str = ""
    ) -> dict[str, str]:
        """A ``{en, ru, kk}`` mapping of non-empty strings (``prefix`` names where it sits)."""
        where = self._at(path, parent, key)
        name = f"{prefix}.{key}" if prefix else key
        if not isinstance(value, dict):
            self.problem(where, owner, f"'{name}' must map each of {', '.join(LANGUAGES)} to text")
            return {}
        result = {}
        for lang in LANGUAGES:
            text = value.get(lang)
            if text is None:
                self.problem(where, owner, f"{name}.{lang} is missing")
            elif not isinstance(text, str) or not text.strip():
                self.problem(where, owner, f"{name}.{lang} must be non-empty text")
            else:
                # Folded YAML (>-) arrives as one line; literal blocks (|-) keep their lines.
                result[lang] = "\n".join(
                    " ".join(line.split()) for line in text.strip().splitlines()
                )
        for extra in sorted(set(value) - set(LANGUAGES)):
            self.problem(where, owner, f"{name} has unknown language '{extra}'")
        return result

    def _questions(self, path: Path, raw: _LineDict, entry_id: str) -> dict[str, tuple[str, ...]]:
        where = self._at(path, raw, "questions")
        value = raw.get("questions")
        if not isinstance(value, dict):
            self.problem(where, entry_id, "'questions' must map each language to a list")
            return {}
        result = {}
        for lang in LANGUAGES:
            items = value.get(lang)
            if not isinstance(items, list):
                self.problem(where, entry_id, f"questions.{lang} must be a list of questions")
                continue
            texts = [item.strip() for item in items if isinstance(item, str) and item.strip()]
            if len(texts) != len(items):
                self.problem(where, entry_id, f"questions.{lang} has an empty or non-text item")
            if len(texts) < MIN_QUESTIONS_PER_LANGUAGE:
                self.problem(
                    where,
                    entry_id,
                    f"questions.{lang} has {len(texts)} phrasings; "
                    f"at least {MIN_QUESTIONS_PER_LANGUAGE} are needed",
                )
            if texts and len(texts[0]) > BUTTON_TITLE_LIMIT:
                self.problem(
                    where,
                    entry_id,
                    f"questions.{lang}: the first question is a button label and must be "
                    f"at most {BUTTON_TITLE_LIMIT} characters",
                )
            result[lang] = tuple(texts)
        for extra in sorted(set(value) - set(LANGUAGES)):
            self.problem(where, entry_id, f"questions has unknown language '{extra}'")
        return result

    def _sources(
        self, path: Path, raw: _LineDict, entry_id: str, *, required: bool
    ) -> tuple[Source, ...]:
        """``sources:``, a list of ``{title: {en, ru, kk}, url: <address> or {en, ru, kk}}``."""
        value = raw.get("sources")
        where = self._at(path, raw, "sources")
        if "source" in raw:
            self.problem(
                self._at(path, raw, "source"),
                entry_id,
                "'source:' is now 'sources:', a list of {title: {en, ru, kk}, url}",
            )
        if value is None:
            if required:
                self.problem(where, entry_id, "sources is missing (a list of title and url)")
            return ()
        if not isinstance(value, list) or not value:
            self.problem(where, entry_id, "sources must be a non-empty list of title and url")
            return ()
        sources = []
        for number, item in enumerate(value, start=1):
            name = f"sources[{number}]"
            if not isinstance(item, _LineDict):
                self.problem(where, entry_id, f"{name} must have 'title' and 'url'")
                continue
            item_where = f"{path}:{item.line}"
            for key in sorted(set(item) - SOURCE_KEYS):
                where_key = self._at(path, item, key)
                self.problem(where_key, entry_id, f"{name} has unknown field '{key}'")
            titles = self._languages(path, item.get("title"), item, "title", entry_id, name)
            urls = self._urls(path, item, entry_id, name)
            if "url" not in item:
                self.problem(item_where, entry_id, f"{name}.url is missing")
            if len(titles) == len(LANGUAGES) and len(urls) == len(LANGUAGES):
                sources.append(Source(MappingProxyType(titles), MappingProxyType(urls)))
        return tuple(sources)

    def _urls(self, path: Path, item: _LineDict, entry_id: str, name: str) -> dict[str, str]:
        """One address for every language, or a mapping with one address per language."""
        value = item.get("url")
        where = self._at(path, item, "url")
        if value is None:
            return {}
        if isinstance(value, str):
            if not URL_PATTERN.match(value.strip()):
                self.problem(where, entry_id, f"{name}.url must be an http(s) address")
                return {}
            return dict.fromkeys(LANGUAGES, value.strip())
        if not isinstance(value, dict):
            self.problem(
                where, entry_id, f"{name}.url must be an address or map {', '.join(LANGUAGES)}"
            )
            return {}
        urls = {}
        for lang in LANGUAGES:
            url = value.get(lang)
            if url is None:
                self.problem(where, entry_id, f"{name}.url.{lang} is missing")
            elif not isinstance(url, str) or not URL_PATTERN.match(url.strip()):
                self.problem(where, entry_id, f"{name}.url.{lang} must be an http(s) address")
            else:
                urls[lang] = url.strip()
        for extra in sorted(set(value) - set(LANGUAGES)):
            self.problem(where, entry_id, f"{name}.url has unknown language '{extra}'")
        return urls

    def _reviewed(self, path: Path, raw: _LineDict, entry_id: str) -> date:
        value = raw.get("reviewed")
        where = self._at(path, raw, "reviewed")
        if not isinstance(value, date):
            self.problem(where, entry_id, "reviewed must be a date like 2026-11-26")
            return self.today
        if value > self.today:
            self.problem(where, entry_id, f"reviewed date {value} is in the future")
        elif self.today - value > STALE_AFTER:
            self.warnings.append(
                f"{where}: {entry_id}: last reviewed {value}, over a year ago; re-check its facts"
            )
        return value

    def _related(self, path: Path, raw: _LineDict, entry_id: str) -> tuple[str, ...]:
        value = raw.get("related", [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(self._at(path, raw, "related"), entry_id, "related must be a list of ids")
            return ()
        if entry_id in value:
            self.problem(self._at(path, raw, "related"), entry_id, "related lists the entry itself")
        return tuple(value)

    def _check_related(self) -> None:
        for where, entry_id, related in self.related_checks:
            for other in related:
                if other not in self.entries:
                    self.problem(where, entry_id, f"related id '{other}' does not exist")

    # --- interface strings and safety patterns ----------------------------------------------

    def _read_ui(self, path: Path, data: _LineDict) -> None:
        strings = data.get("ui")
        if not isinstance(strings, _LineDict):
            self.problem(f"{path}:{data.line}", "ui", "missing 'ui:' mapping of interface strings")
            return
        for key in UI_KEYS:
            if key not in strings:
                self.problem(f"{path}:{strings.line}", key, "interface string is missing")
                continue
            self.ui[key] = self._languages(path, strings[key], strings, key, key)
        for key in sorted(set(strings) - set(UI_KEYS)):
            self.problem(self._at(path, strings, key), key, "unknown interface string")

    def _read_safety(self, path: Path, data: _LineDict) -> None:
        lists: dict[str, dict[str, tuple[str, ...]]] = {}
        for key in ("crisis", "asking_about", "first_person", "adult_speaker"):
            value = data.get(key)
            where = self._at(path, data, key)
            lists[key] = {}
            if not isinstance(value, dict):
                self.problem(where, key, f"'{key}' must map each language to a list of phrases")
                continue
            for lang in LANGUAGES:
                items = value.get(lang)
                if not isinstance(items, list) or not items:
                    self.problem(where, key, f"{key}.{lang} must be a non-empty list of phrases")
                    continue
                if not all(isinstance(item, str) and item.strip() for item in items):
                    self.problem(where, key, f"{key}.{lang} has an empty or non-text item")
                    continue
                lists[key][lang] = tuple(items)
        self.safety = SafetyPatterns(
            crisis=MappingProxyType(lists["crisis"]),
            asking_about=MappingProxyType(lists["asking_about"]),
            first_person=MappingProxyType(lists["first_person"]),
            adult_speaker=MappingProxyType(lists["adult_speaker"]),
        )

    def _read_crisis_replies(self, path: Path, data: _LineDict) -> None:
        for section, keys in (
            ("replies", (*CRISIS_CATEGORIES, CONCERN)),
            ("notices", CRISIS_NOTICES),
        ):
            texts = data.get(section)
            if not isinstance(texts, _LineDict):
                self.problem(f"{path}:{data.line}", section, f"missing '{section}:' mapping")
                continue
            for key in keys:
                if key not in texts:
                    self.problem(f"{path}:{texts.line}", key, "crisis text is missing")
                    continue
                self.crisis_replies[key] = self._languages(path, texts[key], texts, key, key)
            for key in sorted(set(texts) - set(keys)):
                self.problem(self._at(path, texts, key), key, f"unknown key in '{section}'")


def iter_questions(kb: KnowledgeBase) -> Iterator[tuple[Entry, str, str]]:
    """Every (entry, language, question) triple: what retrieval indexes."""
    for entry in kb.entries.values():
        for lang in LANGUAGES:
            for question in entry.questions[lang]:
                yield entry, lang, question
