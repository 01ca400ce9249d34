"""Identifying a document's type from its text (service/identify.py)."""

from service.doctypes import DocumentType, document_types
from service.identify import identify, vocabulary

RECEIPT = """KEDAI BUKU CAHAYA SDN BHD
NO 12, JALAN MERANTI 3, 47301 PETALING JAYA
Date: 25/12/2018 Time: 14:05
NOTEBOOK A5 2 12.00
TOTAL RM 20.03
CASH 50.00
CHANGE 29.97
THANK YOU, PLEASE COME AGAIN"""
FACTURE = """Atelier Lumière SARL                FACTURE
Facture n° : F2024/117
Date de facture : 5 mars 2024
Date d'échéance : 4 avril 2024
Client : Dupont SA
Total HT 1.200,00 €   TVA 20 % 240,00 €   Total TTC 1.440,00 €
IBAN FR76 3000 6000 0112 3456 7890 189"""
PROSE = """The licenses for most software and other practical works are designed to take away your
freedom to share and change the works. By contrast, the GNU General Public License is intended
to guarantee your freedom to share and change all versions of a program, to make sure it
remains free software for all its users. A customer may receive a copy of the source."""
PASSPORT = DocumentType(
    code="passport",
    title="Passport",
    prompt="# Passport\n\nRead the passport's data page: surname, given names, nationality and number.",
    schema={
        "type": "object",
        "properties": {
            "passport_number": {"type": "string", "description": "The passport number"},
            "nationality": {"type": "string"},
            "date_of_birth": {"type": "string", "description": "Date of birth"},
            "surname": {"type": "string"},
        },
    },
)


def test_each_built_in_type_is_told_from_the_others():
    types = list(document_types().values())
    for text, code in ((RECEIPT, "receipt"), (FACTURE, "invoice"), (PROSE, "text")):
        ranked = identify(text, types)
        assert ranked[0][0] == code, ranked
        assert abs(sum(confidence for _, confidence in ranked) - 1) < 0.01
        assert {found for found, _ in ranked} == {"text", *(kind.code for kind in types)}


def test_a_type_added_as_data_is_known_by_the_words_of_its_schema_and_prompt():
    assert {"PASSPORT", "NATIONALITY", "SURNAME", "BIRTH"} <= vocabulary(PASSPORT)
    data_page = (
        "REPUBLIC OF UTOPIA PASSPORT\nSurname: DOE\nGiven names: JANE\nNationality: UTOPIAN\nDate of birth"
    )
    types = [*document_types().values(), PASSPORT]
    assert identify(data_page, types)[0][0] == "passport"
    assert identify(RECEIPT, types)[0][0] == "receipt"


def test_only_the_types_given_are_candidates():
    only_invoices = [document_types()["invoice"]]
    assert [code for code, _ in identify(RECEIPT, only_invoices)] in (
        ["text", "invoice"],
        ["invoice", "text"],
    )
