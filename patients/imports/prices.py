"""The price list file: a pharmacy's cost and usual-and-customary price per NDC and unit.

Matched by pharmacy + NDC. Planning prices every fill from it (scheduling.planning): an insured
claim is the acquisition cost plus the plan's dispensing fee, a cash sale the U&C price. An NDC
not in the catalog is accepted (a wholesaler's list covers far more than the catalog).
"""

from __future__ import annotations

from decimal import Decimal

from patients.imports import identifiers, parsers
from patients.imports.base import Importer, ParsedRow
from patients.imports.results import RowProblem
from patients.models import PriceListEntry


class PriceListImporter(Importer):
    kind = "prices"
    model = PriceListEntry
    compare_fields = ["acquisition_cost", "usual_and_customary"]

    def load(self):
        self.by_key = {(p.pharmacy_id, p.ndc): p for p in PriceListEntry.objects.all()}

    def existing(self, key):
        return self.by_key.get(key)

    def parse(self, line, row):
        pharmacy = self.context.pharmacy_for(row)
        ndc = identifiers.ndc(parsers.text(row, "ndc", required=True, max_length=13))
        cost = parsers.decimal(row, "acquisition_cost", minimum=Decimal("0"))
        usual = parsers.decimal(row, "usual_and_customary", minimum=Decimal("0"))
        if usual < cost:
            self.result.warnings.append(
                RowProblem(line, f"ndc {ndc}: usual and customary {usual} is below cost {cost}.")
            )
        values = {
            "acquisition_cost": cost.quantize(Decimal("0.00001")),
            "usual_and_customary": usual.quantize(Decimal("0.00001")),
        }
        return ParsedRow((pharmacy.pk, ndc), values)

    def build(self, key, values):
        pharmacy_id, ndc = key
        return PriceListEntry(
            organization=self.context.organization, pharmacy_id=pharmacy_id, ndc=ndc, **values
        )
