"""The lexicon files (filters/privacy_filters/dlp/lexicon/*.toml): each parses, names its
sources, covers the languages our customers write, and each language's words are found in
a sentence of that language, with and without accents and in any case."""

import pytest

from privacy_filters.dlp.lexicon import ANCHOR_KINDS, KINDS, fold, lexicon, load_languages

# The UK's languages and every official EU language written in Latin script.
LANGUAGES = set("cs da de en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv cy gd kw sco".split())
# Beyond those: the scripts the label-first rules read before (Cyrillic, Greek, CJK).
OTHERS = set("bg el ru ja zh ko".split())


def test_every_language_has_a_file():
    assert {lang.code for lang in load_languages()} == LANGUAGES | OTHERS


@pytest.mark.parametrize("lang", load_languages(), ids=lambda lang: lang.code)
def test_every_entry_names_a_known_source(lang):
    assert lang.sources and all(text.strip() for text in lang.sources.values())
    for kind in KINDS:
        for term, source in lang.entries[kind].items():
            assert source in lang.sources, (lang.code, kind, term)
            assert term == term.strip() and term, (lang.code, kind)
    assert lang.entries["secret"], lang.code  # every language names a secret somehow


# One sentence per language, the secret word in context (as written, in capitals, and
# without its accents): the kind each must be found as.
IN_CONTEXT = [
    ("en", "Your Password for the portal", "secret"),
    ("de", "Das Erstpasswort für den Laptop", "secret"),   # a compound
    ("de", "der WLAN-Schlüssel lautet", "secret"),
    ("fr", "Le mot de passe du compte", "secret"),
    ("fr", "Le MOT DE PASSE du compte", "secret"),
    ("es", "La contrasena del correo", "secret"),          # without its accent
    ("pt", "A palavra-passe da conta", "secret"),
    ("it", "La parola d’ordine è", "secret"),
    ("nl", "Het beheerderwachtwoord is", "secret"),        # a compound
    ("pl", "Zaloguj się hasłem", "secret"),                # inflected
    ("pl", "Zaloguj sie haslem", "secret"),                # inflected, no accents
    ("cs", "Heslo do účtu", "secret"),
    ("sk", "Heslo k účtu", "secret"),
    ("sl", "Geslo za račun", "secret"),
    ("hr", "Lozinka za račun", "secret"),
    ("hu", "A jelszavad a fiókhoz", "secret"),
    ("fi", "Salasanasi on", "secret"),
    ("et", "Parool on", "secret"),
    ("sv", "Lösenordet till kontot", "secret"),
    ("da", "Adgangskoden til kontoen", "secret"),
    ("lt", "Slaptažodis yra", "secret"),
    ("lv", "Parole ir", "secret"),
    ("mt", "Il-kelma sigrieta hi", "secret"),
    ("ro", "Parola contului este", "secret"),
    ("ga", "An pasfhocal don chuntas", "secret"),
    ("gd", "Am facal-faire agad", "secret"),
    ("cy", "Eich cyfrinair yw", "secret"),
    ("kw", "An ger-tremena yw", "secret"),
    ("sco", "Yer passwird is", "secret"),
    ("de", "Zugangscode fürs Büro", "secret"),
    ("fr", "le digicode de l'immeuble", "secret"),
    ("en", "the sort code is", "sortcode"),
    ("en", "please reset your password", "negative"),
    ("de", "Meeting-ID und Kenncode", "conference"),
]


@pytest.mark.parametrize("code,sentence,kind", IN_CONTEXT)
def test_words_found_in_context(code, sentence, kind):
    assert lexicon().has(kind, fold(sentence)), (code, sentence)


@pytest.mark.parametrize("sentence,kind", [
    ("the passenger list", "secret"),        # "pass" inside a longer English word
    ("a compass bearing", "weak"),           # English does not join words
    ("the pinnacle", "secret"),
    ("the userland tools", "user"),
])
def test_words_inside_other_words_are_not_found(sentence, kind):
    assert not lexicon().has(kind, fold(sentence))


def test_anchor_boundaries_follow_each_language():
    lex = lexicon()
    text = "Erstpasswort und passenger und hasłem"
    assert "secret" in lex.accepts(text, 4, 12)        # German compound: open on the left
    assert not lex.accepts(text, 17, 21)                # "pass" in "passenger"
    assert "secret" in lex.accepts(text, 31, 36)       # "hasł" + "em": Polish case ending


def test_anchor_pattern_compiles_in_re2():
    import re2
    pattern = re2.compile(lexicon().anchor_pattern())
    assert pattern.search("Das KENNWORT lautet")
    assert pattern.search("la contrasena es")
    assert set(ANCHOR_KINDS) <= set(KINDS)
