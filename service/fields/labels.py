"""The words invoices label their fields with, in English, French, German, Dutch, Spanish,
Italian, Portuguese and Polish. Each pattern matches upper-cased text; a field's labels in
every language live in one pattern here, so adding a language is adding words, not rules.
"""

from __future__ import annotations

import re

INVOICE_NUMBER = re.compile(
    r"INVOICE\s*(?:NO\.?|NUMBER|NUM|#|ID)|INV\.?\s*(?:NO\.?|#)|BILL\s*(?:NO\.?|NUMBER|#)|"
    r"FACTURE\s*(?:N\s*[°O]|NUM[ÉE]RO)|N\s*[°O]\.?\s*DE\s*FACTURE|NUM[ÉE]RO\s*DE\s*FACTURE|"  # fr
    r"RECHNUNGS?\s*-?\s*(?:NR|NUMMER)|RECHNUNG\s*NR|"  # de
    r"FACTUUR\s*-?\s*(?:NR|NUMMER)|"  # nl
    r"FACTURA\s*(?:N\.?\s*[º°O]|N[ÚU]M)|N[ÚU]MERO\s*DE\s*FACTURA|N\.?\s*[º°]\s*(?:DE\s*)?FACTURA|"  # es
    r"FATTURA\s*(?:N\b|NR|NUM)|NUMERO\s*(?:DELLA\s*)?FATTURA|"  # it
    r"FATURA\s*N\.?\s*[º°O]?|N[ÚU]MERO\s*DA\s*FATURA|"  # pt
    r"NUMER\s*FAKTURY|FAKTURA\s*(?:VAT\s*)?NR|"  # pl
    r"(?:^|\s)(?:NO\.?|NUMBER|#|NR\.?|N\s*[°º])\s*[:.]"
)
ISSUE_DATE = re.compile(
    r"INVOICE\s*DATE|DATE\s*OF\s*(?:ISSUE|INVOICE)|ISSUE\s*DATE|ISSUED|\bDATED?\b|"
    r"DATE\s*D['’]\s*[ÉE]MISSION|"  # fr ("Date de facture" is a DATE)
    r"RECHNUNGSDATUM|\bDATUM\b|FACTUURDATUM|"  # de, nl
    r"\bFECHA\b|\bDATA\b"  # es; it, pt, pl ("Data fattura", "Data de emissão", "Data wystawienia")
)
_DUE_ELSEWHERE = (
    r"[ÉE]CH[ÉE]ANCE|F[ÄA]LLIG|ZAHLBAR\s*BIS|VERVAL|BETAALDATUM|VENCIMIENTO|SCADENZA|VENCIMENTO|"
    r"TERMIN\s*P[ŁL]ATNO"
)
DUE_DATE = re.compile(r"\bDUE\b|PAYABLE\s*(?:BY|BEFORE|UNTIL)|PAY\s*BY|" + _DUE_ELSEWHERE)
#: Only a due date's label, not the "change due" of a receipt: what marks an invoice.
DUE_DATE_ONLY = re.compile(
    r"(?<!CHANGE )\bDUE\s*(?:DATE|ON|BY)\b|PAYMENT\s*DUE|PAYABLE\s*(?:BY|BEFORE|UNTIL)|" + _DUE_ELSEWHERE
)
PURCHASE_ORDER = re.compile(r"P\.?\s*O\.?\s*(?:NO|NUMBER|#)|PURCHASE\s*ORDER|ORDER\s*(?:NO|NUMBER|#)")
#: The issuer's tax registration (English labels only, as yet).
TAX_ID = re.compile(r"(?:VAT|GST|SST|TAX)\s*(?:REG\.?\s*)?(?:NO|NUMBER|ID|#)|\bTIN\b|\bEIN\b|\bABN\b")
#: The amount before tax.
SUBTOTAL = re.compile(
    r"SUB\s*-?\s*TOTAL|TOTAL\s*(?:EXCL|BEFORE)|NET\s*OF\s*TAX|AMOUNT\s*EXCL|"
    r"SOUS\s*-?\s*TOTAL|TOTAL\s*HT|MONTANT\s*HT|ZWISCHENSUMME|NETTOBETRAG|SUMME\s*NETTO|SUBTOTAAL|"
    r"TOTAAL\s*EXCL|BASE\s*IMPONIBLE|IMPONIBILE|RAZEM\s*NETTO|WARTO[ŚS][ĆC]\s*NETTO"
)
#: The amount to pay, in the words of the other languages (English's are in service.fields.totals).
TOTAL = re.compile(
    r"TOTAL\s*TTC|MONTANT\s*TTC|NET\s*[ÀA]\s*PAYER|TOTAL\s*[ÀA]\s*PAYER|GESAMTBETRAG|GESAMTSUMME|ENDBETRAG|"
    r"RECHNUNGSBETRAG|ZU\s*ZAHLEN|TE\s*BETALEN|TOTAALBEDRAG|\bTOTAAL\b(?!\s*EXCL)|IMPORTE\s*TOTAL|"
    r"TOTAL\s*A\s*PAGAR|\bTOTALE\b|IMPORTO\s*TOTALE|VALOR\s*TOTAL|RAZEM\s*BRUTTO|DO\s*ZAP[ŁL]ATY|"
    r"WARTO[ŚS][ĆC]\s*BRUTTO"
)
#: Taxes by their names (a rate may follow: "MwSt. 19 %").
TAX = re.compile(r"\b(?:TOTAL\s*)?(?:GST|VAT|SST|TAX|SALES\s*TAX|TVA|MWST|UST|BTW|IVA|KWOTA\s*VAT)\b")
