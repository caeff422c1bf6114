"""Issue 29's frozen probe suite: one clear secret per message, hidden by the place it is
written, an encoding or archive, markup that changes what a reader sees, or a written
form; and hard negatives using the same places and forms innocently.

    .venv/bin/python bench/dlp_probes/build.py OUT_DIR              # write the suite
    .venv/bin/python bench/dlp_probes/build.py OUT_DIR --check      # compare with MANIFEST
    .venv/bin/python bench/dlp_probes/build.py OUT_DIR --write-manifest   # after ADDING a family
    .venv/bin/python bench/eval_families.py OUT_DIR                 # caught per family

Same format, numbering and rules as bench/dlp_families (labels.jsonl with "family";
family k is k*100+1..; deterministic; append families, never change one; never tune on
it). Office files are built with zipfile, the PDF by hand, gzip and tar with the standard
library: no new dependency. The docx/xlsx/pptx, gzip and tar.gz probes are deflated for
real (a stored stream would show the secret to a scanner that never decompresses), so
their MANIFEST hashes assume zlib's output as on Debian 12 (zlib 1.2.13); on another zlib
--check may report those files changed while their contents are the same.
Generated suites belong under /tmp, not in the repository.
"""

from __future__ import annotations

from collections.abc import Callable
import random
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "dlp_families"))
sys.path.insert(0, str(HERE))

import common  # noqa: E402
import probes as p  # noqa: E402

SEED = "issue-29-probes-2025"


@dataclass(frozen=True)
class Family:
    name: str
    probe: Callable[[random.Random, int], p.Probe]
    n: int = 8


FAMILIES: tuple[Family, ...] = (
    # Places a reader sees that were never read
    Family("place.html_alt", p.html_alt),
    Family("place.html_title_attribute", p.html_title_attr),
    Family("place.html_title_element", p.html_title_element),
    Family("place.address_display_name", p.display_name),
    Family("place.x_header", p.x_header),
    Family("place.attached_message_headers", p.attached_message_headers),
    Family("place.docx_comment", p.docx_comments),
    Family("place.docx_properties", p.docx_properties),
    Family("place.pptx_speaker_notes", p.pptx_notes),
    Family("place.xlsx_comments", p.xlsx_comments),
    Family("place.xlsx_defined_name", p.xlsx_defined_names),
    Family("place.xlsx_sheet_name", p.xlsx_sheet_names),
    Family("place.xlsx_formula_literal", p.xlsx_formula),
    Family("place.pdf_annotation", p.pdf_annotations),
    Family("place.pdf_form_field", p.pdf_form_fields),
    Family("place.pdf_document_info", p.pdf_info),
    # Skipped silently
    Family("skip.gzip", p.gzip_file),
    Family("skip.tar", p.tar_file),
    Family("skip.tar_gz", p.tar_gz_file),
    Family("skip.utf32", p.utf32_text, 9),
    Family("skip.odd_charset", p.odd_charset),
    # Rendered differently from what the reader sees
    Family("render.css_display_none", p.css_hidden(("display:none", "display: none;",
                                                     "visibility:hidden;display:none"))),
    Family("render.css_font_size_zero", p.css_hidden(("font-size:0", "font-size:0px",
                                                       "font-size: 0pt;"))),
    Family("render.groups_in_blocks", p.groups_in_blocks),
    Family("render.groups_blank_lines", p.groups_blank_lines),
    Family("render.icalendar_folding", p.ical_folding),
    Family("render.vcard_folding", p.vcard_folding),
    # Written forms
    Family("form.separators", p.separators, 9),
    Family("form.space_every_digit", p.every_digit_spaced, 9),
    Family("form.card_8_8", p.eight_eight),
    Family("form.arabic_indic_digits", p.other_digits(0x0660), 9),
    Family("form.extended_arabic_indic_digits", p.other_digits(0x06F0), 6),
    Family("form.devanagari_digits", p.other_digits(0x0966), 9),
    Family("form.account_nnnn_nnnn", p.account_dashed),
    Family("cred.command_line", p.cli_options),
    Family("cred.camel_snake_keys", p.code_keys),
    Family("cred.url_userinfo", p.url_userinfo),
    Family("cred.bracket_labels", p.bracket_labels),
    Family("cred.value_on_next_line", p.value_next_line),
    # The card-veto defect
    Family("veto.card_in_ordinary_context", p.card_veto, 12),
    # Hard negatives
    Family("neg.places", p.neg_places, 10),
    Family("neg.hidden_and_blocks", p.neg_hidden, 6),
    Family("neg.archives_charsets", p.neg_containers, 5),
    Family("neg.number_forms", p.neg_forms, 10),
    Family("neg.command_lines_and_keys", p.neg_cli, 10),
    Family("neg.card_words_no_card", p.neg_card_words, 10),
)


def build_family(fam: Family, base: int) -> list[common.Item]:
    r = random.Random(f"{SEED}:{fam.name}")
    items = []
    for i in range(fam.n):
        heads, part, labels = fam.probe(r, i)
        over = dict(heads)
        mail = common.Mail(over.pop("From", "Sam Evans <sam@example.co.uk>"),
                           over.pop("To", "office@example.org"), "Details", base + i,
                           extra=list(over.items()))
        items.append(common.Item(fam.name, "en", labels, mail.render(part)))
    return items


def build() -> list[tuple[str, list[common.Item]]]:
    return [(fam.name, build_family(fam, k * 100 + 1)) for k, fam in enumerate(FAMILIES, start=1)]


def main(argv: list[str] | None = None) -> int:
    return common.main(argv, __doc__.splitlines()[0], build, HERE / "MANIFEST")


if __name__ == "__main__":
    sys.exit(main())
