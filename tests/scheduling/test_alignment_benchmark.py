"""How fast the alignment engine plans (a benchmark, not a timed test: it asserts no speed).

Run alone with `pytest tests/scheduling/test_alignment_benchmark.py --benchmark-only`; the
figures are in the README ("Billing rules and proration").
"""

from __future__ import annotations

from scheduling.alignment import align
from scheduling.anchor import propose_anchors
from tests.scheduling.test_alignment import four_drug_patient
from tests.scheduling.test_alignment_helpers import ANCHOR, CYCLE, TODAY, d, inhaler, tablet


def six_prescriptions():
    return [
        *four_drug_patient(),
        inhaler("symbicort", last_fill=d(2, 8)),
        tablet("losartan", last_fill=d(2, 12)),
    ]


def test_alignment_plans_per_second(benchmark):
    rxs = six_prescriptions()
    plan = benchmark(align, today=TODAY, anchor_date=ANCHOR, cycle_days=CYCLE, prescriptions=rxs)
    assert len(plan.items) == 6


def test_anchor_proposals_per_second(benchmark):
    rxs = six_prescriptions()
    proposals = benchmark(propose_anchors, today=TODAY, cycle_days=CYCLE, prescriptions=rxs)
    assert len(proposals) == 3
