"""Reading reference libraries: BibTeX and RIS as Zotero and Mendeley export them, and lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from digests.library import Library, decode_library, detect_format, read_library


def read(fixtures: Path, name: str) -> Library:
    return read_library(decode_library((fixtures / "library" / name).read_bytes()))


def ids(library: Library) -> list[tuple[int, str | None, str | None, str | None]]:
    return [(e.number, e.arxiv_id, e.doi, e.url) for e in library.entries]


def test_zotero_bibtex_reads_ids_from_every_field_they_hide_in(fixtures: Path) -> None:
    lib = read(fixtures, "zotero.bib")
    assert lib.format == "bibtex" and lib.size == 8
    assert ids(lib) == [
        (1, "2305.18290", None, None),  # url, arXiv's DOI and note all agree
        (2, None, "10.1145/3442188.3445922", "https://dl.acm.org/doi/10.1145/3442188.3445922"),
        (3, "2506.15841", None, None),  # only in url and note
        (5, None, None, None),
        (6, None, None, None),
        (7, "2512.99999", None, None),
        (8, "1706.03762", None, None),  # Google Scholar's "arXiv preprint arXiv:…"
    ]
    by_number = {e.number: e for e in lib.entries}
    # Braces that keep capitals go; LaTeX accents become letters.
    assert by_number[1].title == (
        "Direct Preference Optimization: Your Language Model is Secretly a Reward Model"
    )
    assert by_number[5].title == "Über-Large Models: A Study of Généralisation"
    assert by_number[1].label.startswith('[rafailov_direct_2023] "Direct Preference')


def test_a_broken_bibtex_entry_is_named_with_its_line_and_the_rest_still_read(
    fixtures: Path,
) -> None:
    lib = read(fixtures, "zotero.bib")
    [problem] = lib.problems
    assert str(problem) == "entry 4 (line 44) [nobody_broken_2024]: unbalanced braces"
    # The entry after the broken one is whole.
    assert next(e.number for e in lib.entries if e.number > 4) == 5


def test_mendeley_bibtex_reads_eprint_arxivid_and_howpublished(fixtures: Path) -> None:
    lib = read(fixtures, "mendeley.bib")
    assert lib.format == "bibtex" and not lib.problems
    assert ids(lib) == [
        (1, "2305.18290", None, None),
        (2, None, None, None),
        (3, None, None, "https://openreview.net/forum?id=HkgBR3QtPr"),
        (4, "2305.18290", None, None),  # a version is the same paper
    ]
    assert lib.entries[1].title == "Constitutional AI: Harmlessness from AI Feedback"


def test_zotero_ris_reads_do_ur_and_m3_and_names_a_record_cut_short(fixtures: Path) -> None:
    lib = read(fixtures, "zotero.ris")
    assert lib.format == "ris" and lib.size == 5
    assert ids(lib) == [
        (1, "2305.18290", None, None),
        (2, None, "10.1145/3442188.3445922", "https://dl.acm.org/doi/10.1145/3442188.3445922"),
        (3, "2506.15841", None, None),
        (4, None, None, None),
    ]
    assert lib.entries[3].title == "The Art of Computer Programming"
    [problem] = lib.problems
    assert str(problem) == (
        'entry 5 (line 52) "A Record Cut Short": the record has no ER line (cut short?)'
    )


def test_mendeley_ris_with_crlf_reads_t1_and_ids_in_notes(fixtures: Path) -> None:
    lib = read(fixtures, "mendeley.ris")
    assert ids(lib) == [(1, "2212.08073", None, None), (2, "1706.03762", None, None)]
    assert lib.entries[0].title == "Constitutional AI: Harmlessness from AI Feedback"
    assert lib.entries[0].line == 1 and lib.entries[1].line == 10


def test_a_plain_list_skips_comments_and_blank_lines(fixtures: Path) -> None:
    lib = read(fixtures, "list.txt")
    assert lib.format == "list"
    assert ids(lib) == [
        (1, "2305.18290", None, None),
        (2, "1706.03762", None, None),
        (3, "2305.18290", None, None),
        (4, None, "10.1145/3442188.3445922", None),
        (5, "2506.15841", None, None),  # arXiv's DOI link is its id
        (6, None, None, "https://openreview.net/forum?id=HkgBR3QtPr"),  # tracking gone
        (8, "2512.99999", None, None),
    ]
    [problem] = lib.problems
    assert (problem.number, problem.line) == (7, 9)
    assert problem.reason == "not an arXiv id, a DOI or a link"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("% JabRef\n\n@Article{key,\n title={x}}\n", "bibtex"),
        ("@misc (key, title = {x})\n", "bibtex"),
        ("\ufeffTY  - JOUR\nTI  - x\nER  - \n", "ris"),
        ("2305.18290\n", "list"),
        ("send mail to someone@example.org\n", "list"),
    ],
)
def test_the_format_is_read_from_the_content(text: str, fmt: str) -> None:
    assert detect_format(text) == fmt


def test_an_entry_without_any_key_is_a_problem_not_a_silent_drop() -> None:
    lib = read_library("@misc{empty,\n  year = {2020},\n}\n")
    [problem] = lib.problems
    assert str(problem) == "entry 1 (line 1) [empty]: no arXiv id, DOI, link or title"


def test_latin1_files_and_control_characters_are_read() -> None:
    text = decode_library("@misc{k, title = {Caf\xe9\x07 Study}}\n".encode("latin-1"))
    assert read_library(text).entries[0].title == "Café Study"
