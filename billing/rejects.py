"""NCPDP reject codes a sync program meets: what each means and the fix the pharmacy takes.

Pure data (DOMAIN.md section 5). ``REJECT_CODES[code] -> (meaning, fix)``; the fill queue shows
both next to a rejected item, the claim page and the API return them with every reject.
"""

from __future__ import annotations

REJECT_CODES: dict[str, tuple[str, str]] = {
    "79": (
        "Refill too soon",
        "Resubmit with SCC 47 (a shortened sync fill) or 48 (the fill after it) when the plan "
        "accepts sync codes, or move the fill to the next anchor.",
    ),
    "76": (
        "Plan limitations exceeded",
        "Cut the fill to the smallest whole package that fits the plan's days supply or "
        "quantity limit, document why, and resubmit.",
    ),
    "65": (
        "Patient is not covered",
        "Update the patient's coverage (the plan was not in force on the date of service), "
        "then resubmit.",
    ),
    "70": (
        "Product/service not covered",
        "Ask the prescriber for a covered alternative or bill the patient's other coverage.",
    ),
    "75": (
        "Prior authorization required",
        "Record the prior authorization number from the plan and resubmit.",
    ),
    "41": (
        "Submit bill to other processor / primary payer",
        "Bill the other payer first, then resubmit here with the other payer amount.",
    ),
    "88": (
        "DUR reject error",
        "Review the DUR conflict with the pharmacist and resubmit with DUR/PPS codes.",
    ),
    "19": (
        "M/I days supply",
        "Correct the days supply from the sig (quantity / daily dose) and resubmit.",
    ),
    "E7": (
        "M/I quantity dispensed",
        "Correct the quantity dispensed and resubmit.",
    ),
    "85": (
        "Claim not processed",
        "Resubmit the claim; call the help desk if it keeps failing.",
    ),
    "87": (
        "Reversal not processed",
        "The claim to reverse was not found paid: check its status before resubmitting.",
    ),
}

UNKNOWN = ("Unknown reject code", "Call the plan's help desk.")


def describe(code: str) -> dict[str, str]:
    """One reject as shown on a claim: {"code", "meaning", "fix"}."""
    meaning, fix = REJECT_CODES.get(code, UNKNOWN)
    return {"code": code, "meaning": meaning, "fix": fix}
