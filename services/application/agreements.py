"""Trade agreements under which a preferential Certificate of Origin can be issued.

Plain reference data (architecture §4): each agreement has its scheme code (the code that
appears in application numbers, ``MPEDA/2019/013/0000066A``), the partner countries, the
certificate form printed for it, the origin criteria an *Indian* exporter may claim, and the
value-content threshold. Nothing here knows about nameko or the database.

Scheme codes 002, 004, 006, 008, 013 and 015 are the codes used by DGFT's Common Digital
Platform. The other agreements have codes of our own in the 101..112 range, chosen so that
they can never collide with the low DGFT codes; they are as stable a contract as the DGFT
ones once certificates carry them, so never renumber them.

Value content: ``value_content_threshold`` is the minimum regional (domestic) value content as
a percentage of the FOB value, computed by the indirect method of docs/architecture.md §4:
``RVC = (FOB - CIF value of non-originating materials) / FOB``. Agreements whose text caps
non-originating materials instead ("non-originating <= 60% of FOB") are converted to that
form (40). The threshold applies to the criteria listed in ``value_content_criteria``;
``value_content_tariff_shift`` names the change in tariff classification the agreement requires
*together with* the value-content criterion (e.g. AIFTA: RVC >= 35% plus CTSH).

Criterion codes. The modern FTAs print codes such as WO (wholly obtained), PE (produced
entirely from originating materials), RVC/QVC (value content), CTH / CTSH / CC (change of
tariff heading / subheading / chapter, used by product-specific rules). The older South-South
schemes (GSTP, SAPTA, SAFTA, APTA, ISLFTA) print letters: A = wholly produced, B = value
content of the exporting country, C = cumulative (aggregate) content, D = product-specific rule
(SAFTA). GSP Form A uses the donor-specific letters P, W, F, G, Y, Pk. Criteria reserved for
least developed countries are left out: India is not an LDC, so its exporters cannot claim them.

Self-certification (``allows_self_certification``): whether an approved exporter's application
under the agreement may be approved without an officer and audited afterwards (the approved
exporter scheme of the Foreign Trade Policy, which applies only where the agreement's origin
procedures let an exporter certify origin). Only IKCEPA allows it here, as the platform's pilot
of the scheme: a single partner with one modern certificate form keeps the post-audit simple.
This is a product choice, not a reading of the legal text; check the current DGFT notices before
enabling another agreement. GSP is left out although EU-style donors accept exporters' own
statements under REX: those statements are not certificates, and the donors that still ask for
Form A want it certified by the agency.

Legal thresholds were taken from the published rules of origin as well as we know them; where
a value is uncertain or simplified, the agreement's ``notes`` say so. Product-specific rules
(PSR) are not modelled: they override the general rule for the listed tariff lines.
"""

from __future__ import annotations

from dataclasses import dataclass

NON_PREFERENTIAL_FORM = "Non-preferential Certificate of Origin"


@dataclass(frozen=True)
class Agreement:
    code: str  # three-digit scheme code, as in application numbers
    short_name: str
    name: str
    partner_countries: tuple[str, ...]  # ISO 3166-1 alpha-2, sorted; India itself excluded
    certificate_form: str
    preference_criteria: tuple[str, ...]  # what an Indian exporter may claim, as printed
    value_content_threshold: int | None  # minimum value content, percent of FOB
    value_content_criteria: tuple[str, ...]  # the criteria that the threshold applies to
    allows_self_certification: bool
    notes: str
    # Change in tariff classification required together with the value-content criterion
    # (general rule), or None when the value content alone suffices.
    value_content_tariff_shift: str | None = None


def _countries(*codes: str) -> tuple[str, ...]:
    # Sorted and de-duplicated so that equality and display order never depend on how the
    # list was typed below.
    return tuple(sorted(set(codes)))


# ASEAN member states (AIFTA partners).
_ASEAN = _countries("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN")

# SAARC members other than India. Afghanistan joined SAARC in 2007, after SAPTA (1993).
_SAARC_ORIGINAL = _countries("BD", "BT", "MV", "NP", "PK", "LK")
_SAARC = _countries(*_SAARC_ORIGINAL, "AF")

_MERCOSUR = _countries("AR", "BR", "PY", "UY")

_EU = _countries(
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
)

# GSP preference-giving countries that have accepted Form A from India. The USA withdrew
# India's GSP benefits in June 2019, so it is not listed. The Eurasian Economic Union runs a
# single scheme (Russia, Belarus, Kazakhstan, Armenia, Kyrgyzstan).
_GSP_DONORS = _countries(
    *_EU,
    "GB",
    "NO",
    "CH",
    "LI",
    "TR",
    "JP",
    "CA",
    "AU",
    "NZ",
    "RU",
    "BY",
    "KZ",
    "AM",
    "KG",
)

# GSTP participants other than India (UNCTAD list). MERCOSUR participates as a group, which
# brings in Paraguay and Uruguay.
_GSTP = _countries(
    "DZ",
    "AR",
    "BD",
    "BJ",
    "BO",
    "BR",
    "CM",
    "CL",
    "CO",
    "CU",
    "KP",
    "EC",
    "EG",
    "GH",
    "GN",
    "GY",
    "ID",
    "IR",
    "IQ",
    "LY",
    "MY",
    "MX",
    "MA",
    "MZ",
    "MM",
    "NI",
    "NG",
    "PK",
    "PE",
    "PH",
    "KR",
    "SG",
    "LK",
    "SD",
    "TH",
    "TT",
    "TN",
    "TZ",
    "VE",
    "VN",
    "ZW",
    *_MERCOSUR,
)

_APTA = _countries("BD", "CN", "KR", "LA", "LK", "MN")

_MODERN_CRITERIA = ("WO", "PE", "RVC", "CTH", "CTSH", "CC")


AGREEMENTS: tuple[Agreement, ...] = (
    Agreement(
        code="002",
        short_name="IKCEPA",
        name="India-Korea Comprehensive Economic Partnership Agreement",
        partner_countries=_countries("KR"),
        certificate_form="IKCEPA Certificate of Origin",
        preference_criteria=_MODERN_CRITERIA,
        value_content_threshold=35,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=True,  # see "Self-certification" above
        notes=(
            "In force 1 January 2010. General rule: RVC of at least 35% of FOB together with "
            "a change of tariff subheading (CTSH). Product-specific rules use CTH, CTSH or CC "
            "alone or with RVC for the listed lines."
        ),
    ),
    Agreement(
        code="004",
        short_name="GSTP",
        name="Global System of Trade Preferences among Developing Countries",
        partner_countries=_GSTP,
        certificate_form="GSTP Certificate of Origin",
        preference_criteria=("A", "B", "C"),
        value_content_threshold=50,
        value_content_criteria=("B",),
        allows_self_certification=False,
        notes=(
            "A: wholly produced; B: non-originating materials at most 50% of FOB (domestic "
            "content at least 50%); C: cumulative origin, aggregate content of participants "
            "at least 60% of FOB (not checked by the single threshold). The LDC criterion (40% "
            "domestic content) does not apply to Indian exports. Participant list as published "
            "by UNCTAD; membership changes should be checked before relying on it."
        ),
    ),
    Agreement(
        code="006",
        short_name="GSP",
        name="Generalised System of Preferences",
        partner_countries=_GSP_DONORS,
        certificate_form="Form A",
        preference_criteria=("P", "W", "F", "G", "Y", "Pk"),
        value_content_threshold=None,
        value_content_criteria=("F", "G", "Y"),
        allows_self_certification=False,
        notes=(
            "Rules of origin are set by each preference-giving country, so there is no single "
            "threshold. Form A box 8: P wholly obtained; W + HS heading for sufficient working "
            "(EU-style rules, Japan); F / G value-content and cumulation for Canada; Y + "
            "percentage and Pk for the Eurasian Economic Union. The EU, UK, Norway, Switzerland "
            "and Turkiye have replaced Form A by exporter statements on origin under the "
            "Registered Exporter (REX) system; they stay listed because Form A remains their "
            "fallback in some cases. USA: India's GSP was withdrawn in June 2019."
        ),
    ),
    Agreement(
        code="008",
        short_name="SAPTA",
        name="SAARC Preferential Trading Arrangement",
        partner_countries=_SAARC_ORIGINAL,
        certificate_form="SAPTA Certificate of Origin",
        preference_criteria=("A", "B", "C"),
        value_content_threshold=50,
        value_content_criteria=("B",),
        allows_self_certification=False,
        notes=(
            "A: wholly produced; B: non-originating materials at most 50% of FOB (domestic "
            "content at least 50%); C: cumulative origin, aggregate SAARC content at least 60% "
            "of FOB with at least 20% domestic (not checked by the single threshold). Partners "
            "are the original SAARC signatories of 1993; Afghanistan joined SAARC later and "
            "trades under SAFTA. Largely superseded by SAFTA."
        ),
    ),
    Agreement(
        code="013",
        short_name="AIFTA",
        name="ASEAN-India Free Trade Agreement (Trade in Goods)",
        partner_countries=_ASEAN,
        certificate_form="Form AI",
        preference_criteria=("WO", "PE", "RVC"),
        value_content_threshold=35,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "In force 1 January 2010. Goods not wholly obtained qualify with an ASEAN-India "
            "content (RVC) of at least 35% of FOB and a change of tariff subheading (CTSH) for "
            "all non-originating materials; CTSH is a condition of the RVC criterion, not a "
            "criterion on its own, and the box 8 entry reads like 'RVC 35% + CTSH'."
        ),
    ),
    Agreement(
        code="015",
        short_name="APTA",
        name="Asia-Pacific Trade Agreement",
        partner_countries=_APTA,
        certificate_form="APTA Certificate of Origin",
        preference_criteria=("A", "B", "C"),
        value_content_threshold=45,
        value_content_criteria=("B",),
        allows_self_certification=False,
        notes=(
            "Formerly the Bangkok Agreement; Mongolia acceded in 2013. A: wholly produced; B: "
            "non-originating materials at most 55% of FOB (domestic content at least 45%); C: "
            "cumulative, aggregate content at least 60% (not checked by the single threshold). "
            "The LDC criterion (35%) does not apply to India. The revised rules of origin "
            "(in force 2018) are reported to add a change of tariff subheading; verify against "
            "the current text."
        ),
    ),
    Agreement(
        code="101",
        short_name="SAFTA",
        name="Agreement on South Asian Free Trade Area",
        partner_countries=_SAARC,
        certificate_form="SAFTA Certificate of Origin",
        preference_criteria=("A", "B", "C", "D"),
        value_content_threshold=40,
        value_content_criteria=("B",),
        value_content_tariff_shift="CTH",
        allows_self_certification=False,
        notes=(
            "Code of our own. A: wholly produced; B: domestic value addition at least 40% of "
            "FOB (non-originating at most 60%) with a change of tariff heading; C: cumulative, "
            "aggregate content at least 50% with at least 20% domestic (not checked by the "
            "single threshold); D: product-specific rule. The lower LDC and Sri Lanka "
            "percentages do not apply to Indian exports. Letter D for product-specific rules "
            "is our reading of the certificate notes."
        ),
    ),
    Agreement(
        code="102",
        short_name="ISLFTA",
        name="India-Sri Lanka Free Trade Agreement",
        partner_countries=_countries("LK"),
        certificate_form="ISLFTA Certificate of Origin",
        preference_criteria=("A", "B", "C"),
        value_content_threshold=35,
        value_content_criteria=("B",),
        value_content_tariff_shift="CTH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force March 2000. B: domestic value addition at least 35% of "
            "FOB with a change of tariff heading; C: with inputs from Sri Lanka, domestic value "
            "addition at least 25% and aggregate content at least 35% (not checked by the "
            "single threshold)."
        ),
    ),
    Agreement(
        code="103",
        short_name="IJCEPA",
        name="India-Japan Comprehensive Economic Partnership Agreement",
        partner_countries=_countries("JP"),
        certificate_form="IJCEPA Certificate of Origin",
        preference_criteria=("WO", "PE", "QVC", "CTH", "CTSH", "CC"),
        value_content_threshold=35,
        value_content_criteria=("QVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force August 2011. General rule: qualifying value content "
            "(QVC) of at least 35% of FOB and CTSH; product-specific rules for listed lines."
        ),
    ),
    Agreement(
        code="104",
        short_name="IMCECA",
        name="India-Malaysia Comprehensive Economic Cooperation Agreement",
        partner_countries=_countries("MY"),
        certificate_form="IMCECA Certificate of Origin",
        preference_criteria=_MODERN_CRITERIA,
        value_content_threshold=35,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force July 2011. General rule: RVC at least 35% of FOB and "
            "CTSH; product-specific rules for listed lines."
        ),
    ),
    Agreement(
        code="105",
        short_name="ISCECA",
        name="India-Singapore Comprehensive Economic Cooperation Agreement",
        partner_countries=_countries("SG"),
        certificate_form="ISCECA Certificate of Origin",
        preference_criteria=_MODERN_CRITERIA,
        value_content_threshold=40,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force August 2005. General rule: local/regional value "
            "content at least 40% of FOB and CTSH; product-specific rules for listed lines."
        ),
    ),
    Agreement(
        code="106",
        short_name="ITFTA-EHS",
        name="India-Thailand Framework Agreement, Early Harvest Scheme",
        partner_countries=_countries("TH"),
        certificate_form="India-Thailand EHS Certificate of Origin",
        preference_criteria=("WO", "RVC"),
        value_content_threshold=40,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force September 2004 for 82 tariff lines only. Local content "
            "at least 40% of FOB with CTSH, as commonly published; verify against the notified "
            "rules."
        ),
    ),
    Agreement(
        code="107",
        short_name="ICPTA",
        name="India-Chile Preferential Trade Agreement",
        partner_countries=_countries("CL"),
        certificate_form="India-Chile PTA Certificate of Origin",
        preference_criteria=("WO", "RVC"),
        value_content_threshold=40,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force 2007, expanded 2017. RVC at least 40% of FOB with CTSH, "
            "as commonly published; verify against the notified rules."
        ),
    ),
    Agreement(
        code="108",
        short_name="IMPTA",
        name="India-MERCOSUR Preferential Trade Agreement",
        partner_countries=_MERCOSUR,
        certificate_form="India-MERCOSUR PTA Certificate of Origin",
        preference_criteria=("WO", "RVC"),
        value_content_threshold=60,
        value_content_criteria=("RVC",),
        allows_self_certification=False,
        notes=(
            "Code of our own. In force 1 June 2009. The CIF value of non-originating materials "
            "may not exceed 40% of FOB (Customs Tariff Rules 2009, rule 6), i.e. RVC at least "
            "60%, and the last manufacturing process must take place in the exporting party."
        ),
    ),
    Agreement(
        code="109",
        short_name="IAPTA",
        name="India-Afghanistan Preferential Trade Agreement",
        partner_countries=_countries("AF"),
        certificate_form="India-Afghanistan PTA Certificate of Origin",
        preference_criteria=("WO", "RVC"),
        value_content_threshold=50,
        value_content_criteria=("RVC",),
        allows_self_certification=False,
        notes=(
            "Code of our own. In force 2003. Domestic value addition at least 50% of FOB, as "
            "commonly published; verify against the notified rules."
        ),
    ),
    Agreement(
        code="110",
        short_name="IUAECEPA",
        name="India-UAE Comprehensive Economic Partnership Agreement",
        partner_countries=_countries("AE"),
        certificate_form="India-UAE CEPA Certificate of Origin",
        preference_criteria=_MODERN_CRITERIA,
        value_content_threshold=40,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force 1 May 2022. Value addition at least 40% of FOB with "
            "CTSH is the usual rule; origin is product-specific, so check the annex for each "
            "line."
        ),
    ),
    Agreement(
        code="111",
        short_name="IndAus ECTA",
        name="India-Australia Economic Cooperation and Trade Agreement",
        partner_countries=_countries("AU"),
        certificate_form="IndAus ECTA Certificate of Origin",
        preference_criteria=_MODERN_CRITERIA,
        value_content_threshold=35,
        value_content_criteria=("RVC",),
        allows_self_certification=False,
        notes=(
            "Code of our own. In force 29 December 2022. Rules of origin are product-specific "
            "(CTH, CTSH, CC or RVC of 35% to 50%); 35 is the lowest common RVC level, so the "
            "product-specific rule must be checked for each line."
        ),
    ),
    Agreement(
        code="112",
        short_name="CECPA",
        name="India-Mauritius Comprehensive Economic Cooperation and Partnership Agreement",
        partner_countries=_countries("MU"),
        certificate_form="CECPA Certificate of Origin",
        preference_criteria=_MODERN_CRITERIA,
        value_content_threshold=35,
        value_content_criteria=("RVC",),
        value_content_tariff_shift="CTSH",
        allows_self_certification=False,
        notes=(
            "Code of our own. In force 1 April 2021. Value addition at least 35% of FOB with "
            "CTSH as the usual rule, as commonly published; product-specific rules apply."
        ),
    ),
)

_BY_CODE = {a.code: a for a in AGREEMENTS}


def agreement_by_code(code: str) -> Agreement | None:
    """The agreement with this scheme code, or None (e.g. for a non-preferential certificate)."""
    return _BY_CODE.get(code)


def agreements_for_country(alpha_2: str) -> tuple[Agreement, ...]:
    """Agreements under which goods can be exported to this country (alpha-2, any case)."""
    country = alpha_2.upper()
    return tuple(a for a in AGREEMENTS if country in a.partner_countries)


def agreement_as_dict(a: Agreement) -> dict:
    """JSON-ready form for the API and events: lists instead of tuples."""
    return {
        "code": a.code,
        "short_name": a.short_name,
        "name": a.name,
        "partner_countries": list(a.partner_countries),
        "certificate_form": a.certificate_form,
        "preference_criteria": list(a.preference_criteria),
        "value_content_threshold": (
            int(a.value_content_threshold) if a.value_content_threshold is not None else None
        ),
        "value_content_criteria": list(a.value_content_criteria),
        "value_content_tariff_shift": a.value_content_tariff_shift,
        "allows_self_certification": a.allows_self_certification,
        "notes": a.notes,
    }
