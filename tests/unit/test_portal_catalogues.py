"""The portal's texts go through gettext catalogues: the committed catalogue holds every text
of the templates and views, English is complete, and a new language needs no template change."""

import shutil

import pytest
from babel.messages.pofile import read_po

from portal import catalogues
from portal.app import Portal


def committed(path):
    with open(path, "rb") as po:
        return read_po(po)


def test_the_committed_template_catalogue_holds_every_text_of_the_portal():
    extracted = {message.id for message in catalogues.extract() if message.id}
    kept = {message.id for message in committed(catalogues.TEMPLATE) if message.id}
    assert extracted == kept, "run: python -m portal.catalogues"
    assert len(extracted) > 0


def test_english_is_complete():
    english = committed(catalogues.FOLDER / "en" / "LC_MESSAGES" / "messages.po")
    extracted = {message.id for message in catalogues.extract() if message.id}
    missing = [m.id for m in english if m.id and not m.string]
    assert not missing
    assert extracted <= {message.id for message in english if message.id}


@pytest.fixture
def with_hindi(tmp_path, monkeypatch):
    folder = tmp_path / "translations"
    shutil.copytree(catalogues.FOLDER, folder)
    hindi = folder / "hi" / "LC_MESSAGES"
    hindi.mkdir(parents=True)
    (hindi / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Skip to the content"\nmsgstr "सामग्री पर जाएँ"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogues, "FOLDER", folder)
    catalogues.translations.cache_clear()
    yield
    catalogues.translations.cache_clear()


def test_a_new_language_is_a_catalogue_not_a_template_change(with_hindi):
    assert catalogues.languages() == ["en", "hi"]
    values = dict(title="T", message="M", csrf_token="", user=None, path="/", bridge_url="", language="hi")
    hindi = Portal._environment("hi").get_template("error.html").render(**values)
    english = Portal._environment("en").get_template("error.html").render(**{**values, "language": "en"})
    assert "सामग्री पर जाएँ" in hindi and '<html lang="hi">' in hindi
    assert "Skip to the content" in english and "सामग्री" not in english


def test_every_field_of_the_application_form_has_words_for_people():
    from portal.words import FIELD_WORDS
    from services.contracts import application_form as contract

    parts = [
        contract.ImporterSchema,
        contract.TransportSchema,
        contract.InvoiceSchema,
        contract.ProductSchema,
        contract.RawMaterialSchema,
        contract.DeclarationSchema,
    ]
    named = {name for part in parts for name in part().fields} - {"raw_materials"}
    assert named - set(FIELD_WORDS) == set()
