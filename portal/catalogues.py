"""The portal's texts in gettext catalogues (Babel): one ``messages.po`` per language under
``translations/<language>/LC_MESSAGES/``, English complete. A new language is a new folder and
its ``.po``; no template changes.

``python -m portal.catalogues`` extracts the texts from the templates and views into
``translations/messages.pot`` and brings every language's catalogue up to date (English is
filled with its own words; other languages keep their translations and get the new texts to
translate, empty until someone does).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

HERE = Path(__file__).resolve().parent
FOLDER = HERE / "translations"
TEMPLATE = FOLDER / "messages.pot"
SOURCE = "en"
# where the texts are: the views' Python and the Jinja2 templates (with the i18n extension)
METHODS = [("views/**.py", "python"), ("*.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def N_(message: str) -> str:
    """Marks a text for the catalogues where it is defined (a module's table of words) and
    leaves it as it is: it is translated where it is shown, ``page._(text)`` in a view or
    ``_(text)`` in a template."""
    return message


def languages() -> list[str]:
    """The languages with a catalogue, English first."""
    found = sorted(path.parent.parent.name for path in FOLDER.glob("*/LC_MESSAGES/messages.po"))
    return sorted(found, key=lambda language: language != SOURCE)


@lru_cache(maxsize=None)
def translations(language: str) -> Translations:
    """The catalogue of one language, compiled in memory (no .mo files to keep in step)."""
    with open(FOLDER / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def extract() -> Catalog:
    """Every text of the templates and views, as the template catalogue."""
    catalog = Catalog(project="OpenCoO portal", fuzzy=False)
    for filename, line, message, comments, context in extract_from_dir(
        str(HERE), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def update() -> None:
    template = extract()
    with open(TEMPLATE, "wb") as pot:
        write_po(pot, template, omit_header=True, sort_output=True, include_lineno=False)
    for language in languages() or [SOURCE]:
        path = FOLDER / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as po:
                catalog = read_po(po, locale=language)
        else:
            catalog = Catalog(locale=language, project="OpenCoO portal")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == SOURCE:
            for message in catalog:
                if message.id:
                    message.string = message.id
        with open(path, "wb") as po:
            write_po(po, catalog, omit_header=True, sort_output=True, include_lineno=False)


if __name__ == "__main__":
    update()
