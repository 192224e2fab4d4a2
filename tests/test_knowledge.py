"""Loading and validating the knowledge base (bot/knowledge.py, ``python -m bot check``)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from shared import KNOWLEDGE_DIR, shipped_knowledge

from bot.__main__ import main
from bot.knowledge import UI_KEYS, KnowledgeError, load_knowledge
from bot.text import LANGUAGES

PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+): (?P<id>\S+): (?P<what>.+)$")


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped knowledge base to break."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory)
    return caught.value.problems


def test_shipped_knowledge_base_is_valid_and_large_enough() -> None:
    kb = shipped_knowledge()
    assert len(kb.entries) >= 60
    assert not kb.warnings
    faq = [entry for entry in kb.entries.values() if entry.kind == "faq"]
    for entry in kb.entries.values():
        for lang in LANGUAGES:
            assert len(entry.questions[lang]) >= 5, (entry.id, lang)
            assert entry.answers[lang].strip(), (entry.id, lang)
    assert all(entry.sources for entry in faq)


def test_every_interface_string_exists_in_every_language() -> None:
    kb = shipped_knowledge()
    for key in UI_KEYS:
        for lang in LANGUAGES:
            assert kb.text(key, lang).strip(), (key, lang)


def test_helpline_numbers_appear_in_the_crisis_text_of_every_language() -> None:
    kb = shipped_knowledge()
    for lang in LANGUAGES:
        crisis = kb.text("crisis", lang)
        assert "111" in crisis and "112" in crisis, lang


def test_seed_article_figures_are_answerable() -> None:
    """Every figure of the seed article is stated in some answer (in every language)."""
    kb = shipped_knowledge()
    figures = ["21,387", "17,660", "1,000", "300", "17", "14", "20", "1.6", "$100", "2023", "111"]
    for lang in LANGUAGES:
        answers = " ".join(entry.answers[lang] for entry in kb.entries.values())
        digits_only = re.sub(r"[\s,.\u00a0\u202f]", "", answers)
        for figure in figures:
            assert re.sub(r"[,.]", "", figure).lstrip("$") in digits_only, (lang, figure)
    english = " ".join(entry.answers["en"] for entry in kb.entries.values())
    for name in ["DosbolLike", "CyberTumar", "Parental Control", "1 June", "1 February 2024"]:
        assert name.lower() in english.lower(), name


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("days.yaml", "entries:", "entries: [", "YAML syntax error"),
        ("help.yaml", "  - id: hotline-150", "  - id: hotline-111", "duplicate id"),
        (
            "days.yaml",
            "    related:",
            "    related: [no-such-entry]\n    relatedx:",
            "unknown field",
        ),
        (
            "orphans.yaml",
            "    reviewed: 2026-12-02",
            "    reviewed: yesterday",
            "reviewed must be a date",
        ),
        ("support.yaml", "    sources:", "    sourses:", "unknown field 'sourses'"),
    ],
)
def test_broken_files_are_reported_precisely(
    kb_copy: Path, file: str, old: str, new: str, expected: str
) -> None:
    edit(kb_copy / file, old, new)
    problems = problems_of(kb_copy)
    assert any(expected in problem for problem in problems), problems
    for problem in problems:
        match = PROBLEM_LINE.match(problem)
        assert match, f"not file:line: id: what — {problem!r}"
        assert Path(match["file"]).name == file


def _entry_mutation(kb_copy: Path, file: str, entry_id: str, mutate) -> int:
    """Apply ``mutate`` to one entry's data; return the entry's line in the rewritten file."""
    path = kb_copy / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = data["entries"]
    index = next(i for i, entry in enumerate(entries) if entry["id"] == entry_id)
    mutate(entries[index])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == f"- id: {entry_id}")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda e: e["answer"].pop("kk"), "answer.kk is missing"),
        (lambda e: e["questions"].pop("ru"), "questions.ru must be a list"),
        (lambda e: e["answer"].update(en="   "), "answer.en must be non-empty text"),
        (lambda e: e["questions"].update(en="just one string"), "questions.en must be a list"),
        (lambda e: e["questions"].update(kk=["a", "b"]), "questions.kk has 2 phrasings"),
        (lambda e: e["answer"].update(ru="x" * 5000), "answer.ru is 5000 characters"),
        (lambda e: e.update(related=["hotline-999"]), "related id 'hotline-999' does not exist"),
        (lambda e: e.update(related="hotline-150"), "related must be a list of ids"),
        (lambda e: e.pop("sources"), "sources is missing"),
        (lambda e: e.update(sources=[]), "sources must be a non-empty list"),
        (lambda e: e["sources"][0].update(url="kursiv.media"), "sources[1].url must be an http(s)"),
        (lambda e: e["sources"][0].pop("url"), "sources[1].url is missing"),
        (lambda e: e["sources"][0]["title"].pop("ru"), "sources[1].title.ru is missing"),
        (lambda e: e["sources"][0].update(title="Kursiv"), "'sources[1].title' must map each"),
        (lambda e: e["sources"][0].update(pages=3), "sources[1] has unknown field 'pages'"),
        (
            lambda e: e["sources"][0].update(url={"en": "https://a.kz/", "ru": "https://b.kz/"}),
            "sources[1].url.kk is missing",
        ),
        (
            lambda e: e["sources"][0].update(
                url={**dict.fromkeys(LANGUAGES, "https://a.kz/"), "de": "x"}
            ),
            "sources[1].url has unknown language 'de'",
        ),
        (lambda e: e["sources"].insert(1, "Kursiv"), "sources[2] must have 'title' and 'url'"),
        (
            lambda e: e.update(source={"title": "Kursiv", "url": "https://kursiv.media/"}),
            "'source:' is now 'sources:'",
        ),
        (lambda e: e.update(details="for parents"), "'details' must map each"),
        (lambda e: e.update(details={"en": "For parents."}), "details.ru is missing"),
        (lambda e: e.update(reviewed=date(2099, 1, 1)), "is in the future"),
        (lambda e: e.update(kind="joke"), "kind must be one of"),
    ],
)
def test_entry_mistakes_name_the_file_line_and_entry(kb_copy: Path, mutate, expected: str) -> None:
    line = _entry_mutation(kb_copy, "help.yaml", "hotline-111", mutate)
    problems = problems_of(kb_copy)
    mine = [p for p in problems if ": hotline-111: " in p and expected in p]
    assert mine, problems
    file, problem_line = mine[0].split(":")[:2]
    assert file.endswith("help.yaml")
    assert int(problem_line) >= line  # the entry's line or the line of the bad field in it


def test_all_problems_are_reported_at_once(kb_copy: Path) -> None:
    edit(kb_copy / "days.yaml", "  - id: childrens-day-history", "  - id: childrens-day-date")
    edit(kb_copy / "help.yaml", "    sources:", "    sourse:")
    (kb_copy / "broken.yaml").write_text("topic: [unclosed\n", encoding="utf-8")
    problems = problems_of(kb_copy)
    assert any("days.yaml" in p and "duplicate id" in p for p in problems)
    assert any("help.yaml" in p and "sourse" in p for p in problems)
    assert any("broken.yaml" in p and "YAML syntax error" in p for p in problems)


def test_missing_interface_string_is_reported(kb_copy: Path) -> None:
    edit(kb_copy / "ui.yaml", "  hotlines:", "  hotlinez:")
    problems = problems_of(kb_copy)
    assert any(": hotlines: interface string is missing" in p for p in problems)
    assert any(": hotlinez: unknown interface string" in p for p in problems)


def test_stale_entries_are_warnings_not_errors(kb_copy: Path) -> None:
    kb = load_knowledge(kb_copy, today=date(2028, 1, 1))
    assert kb.warnings
    assert all("over a year ago" in warning for warning in kb.warnings)


def test_missing_directory_and_empty_directory(tmp_path: Path) -> None:
    assert "not found" in problems_of(tmp_path / "nowhere")[0]
    assert "no .yaml files" in problems_of(tmp_path)[0]


def test_binary_garbage_file_is_a_problem_not_a_crash(kb_copy: Path) -> None:
    (kb_copy / "garbage.yaml").write_bytes(b"\xff\xfe\x00\x01binary")
    problems = problems_of(kb_copy)
    assert any("garbage.yaml" in p for p in problems)


def test_check_command_passes_on_the_shipped_knowledge(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_check_command_reports_and_fails(kb_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(kb_copy / "help.yaml", "  - id: hotline-150", "  - id: hotline-111")
    assert main(["--knowledge", str(kb_copy), "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out and all(PROBLEM_LINE.match(line) for line in out)


def test_bot_refuses_to_start_with_a_broken_knowledge_base(
    kb_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(kb_copy / "help.yaml", "  - id: hotline-150", "  - id: hotline-111")
    assert main(["--knowledge", str(kb_copy), "ask", "hi"]) == 1
    err = capsys.readouterr().err
    assert "will not start" in err and "duplicate id" in err


def test_ids_too_long_for_telegram_buttons_are_refused(kb_copy: Path) -> None:
    long_id = "hotline-" + "x" * 60
    edit(kb_copy / "help.yaml", "  - id: hotline-150", f"  - id: {long_id}")
    problems = problems_of(kb_copy)
    assert any(f": {long_id}: id is longer than 50 characters" in p for p in problems)


# --- content rules (issue 10's content review) ---------------------------------------------------

#: Words an answer must not open with: "Yes."/"No." contradict half of the phrasings they answer
#: ("does 111 tell my parents?" / "is 111 anonymous?").
YES_NO = re.compile(r"^(yes|no|да|нет|иә|ия|жоқ)\b", re.IGNORECASE)
#: A sentence ends at . ! ? followed by a space and a capital letter, a digit or an opening quote.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ0-9«\"(])")
MAX_SENTENCES = 4


def _faq_entries():
    return [entry for entry in shipped_knowledge().entries.values() if entry.kind == "faq"]


def test_no_answer_opens_with_yes_or_no() -> None:
    for entry in shipped_knowledge().entries.values():
        for lang in LANGUAGES:
            assert not YES_NO.match(entry.answers[lang]), (entry.id, lang)


def test_answers_for_children_are_at_most_four_sentences() -> None:
    """Details for parents go to ``details:``; the answer itself stays short."""
    for entry in _faq_entries():
        for lang in LANGUAGES:
            sentences = SENTENCE_END.split(entry.answers[lang])
            assert len(sentences) <= MAX_SENTENCES, (entry.id, lang, len(sentences))


def test_every_source_title_is_written_in_each_language() -> None:
    for entry in _faq_entries():
        for source in entry.sources:
            titles = {lang: source.title(lang) for lang in LANGUAGES}
            assert titles["ru"] != titles["en"] and titles["kk"] != titles["en"], entry.id
            assert titles["ru"] != titles["kk"], entry.id


def test_sources_with_language_versions_link_each_language() -> None:
    """adilet.zan.kz publishes its texts in Russian, Kazakh and English: each reader gets theirs."""
    kb = shipped_knowledge()
    adilet = [s for e in kb.entries.values() for s in e.sources if "adilet.zan.kz" in s.url("en")]
    assert adilet
    for source in adilet:
        assert "/eng/" in source.url("en") and "/rus/" in source.url("ru")
        assert "/kaz/" in source.url("kk")


def test_helpline_claims_stay_within_the_fact_register() -> None:
    """Only 112 is confirmed free from any phone; 150's current status is unconfirmed."""
    kb = shipped_knowledge()
    texts = [
        (entry.id, text)
        for entry in kb.entries.values()
        for mapping in (entry.answers, entry.details)
        for text in mapping.values()
    ] + [(key, kb.text(key, lang)) for key in ("hotlines", "help", "about") for lang in LANGUAGES]
    told_to_check = ("check that it still works", "проверь, работает ли", "жұмыс істей ме, тексер")
    for owner, text in texts:
        lowered = text.lower()
        assert not any(phrase in lowered for phrase in told_to_check), owner
        if (
            "any phone" in lowered
            or "любого телефона" in lowered
            or "кез келген телефон" in lowered
        ):
            assert "112" in text, owner


def test_knowledge_comments_point_at_the_fact_register_in_the_repository() -> None:
    assert (KNOWLEDGE_DIR / "FACTS.md").is_file()
    for path in KNOWLEDGE_DIR.glob("*.yaml"):
        assert "/work/shared" not in path.read_text(encoding="utf-8"), path.name
        assert "shared/facts.md" not in path.read_text(encoding="utf-8"), path.name
