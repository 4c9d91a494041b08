"""One fill of the queue as its table row, written in Python rather than a template.

A queue page shows up to a hundred of these and its server time is a measured goal (within 3x
of a hello-world view, `bench_queue`): the template engine spent about half of the page's time
on these rows. Every value is escaped here; the markup is what the page's keyboard script,
htmx and the browser tests rely on (ids, classes, data-testid, data-key, hx-vals).
Actions post to {base}<fill id>/<action>/ with the version the row showed.
"""

from __future__ import annotations

import html

from django.template.defaultfilters import floatformat
from django.utils.dateformat import format as format_date
from django.utils.safestring import SafeString, mark_safe

from scheduling.models import ItemState

_OPEN_STATES = (ItemState.PLANNED, ItemState.BILLED, ItemState.FLAGGED)


def escape(value) -> str:
    """What django.utils.html.escape writes, without making a SafeString of each value."""
    return html.escape(str(value))


def _post(url: str, label: str, *, key: str = "", css: str = "", confirm: str = "") -> str:
    attrs = f' class="{css}"' if css else ""
    attrs += f' data-key="{key}"' if key else ""
    attrs += f' hx-post="{url}"'
    attrs += f' hx-confirm="{escape(confirm)}"' if confirm else ""
    hint = f" <kbd>{key.upper()}</kbd>" if key else ""
    return f"<button{attrs}>{label}{hint}</button>"


def _state_cell(item, error: str) -> str:
    parts = [f'<span data-testid="item-state">{escape(item.get_state_display())}</span>']
    if item.state_changed_by_id and item.state != ItemState.PLANNED:
        parts.append(f"<br><small>by {escape(item.state_changed_by)}</small>")
    if item.flag_reason:
        note = f": {escape(item.flag_note)}" if item.flag_note else ""
        reason = escape(item.get_flag_reason_display())
        parts.append(f'<br><small class="warning">{reason}{note}</small>')
    for warning in item.warnings or ():
        if warning.get("code") == "renewal_needed":
            parts.append(f'<br><small class="warning">{escape(warning.get("message", ""))}</small>')
    if item.ndc_scanned:
        scanned = escape(item.ndc_scanned)
        parts.append(f'<br><small data-testid="ndc-scanned">NDC {scanned} scanned</small>')
    claim = getattr(item, "claim", None)
    if claim is not None:
        parts.append(
            f'<br><small data-testid="claim-status" class="claim-{escape(claim.status)}">'
            f"{_claim_status(claim)}</small>"
        )
    if error:
        parts.append(
            f'<br><small class="warning" role="alert" data-testid="item-error">{escape(error)}'
            "</small>"
        )
    return "".join(parts)


def _claim_status(claim) -> str:
    if claim.status == "paid":
        codes = f" (SCC {escape(', '.join(map(str, claim.scc_codes)))})" if claim.scc_codes else ""
        return (
            f"Paid{codes} · plan ${escape(claim.plan_pay)} · patient ${escape(claim.patient_pay)}"
        )
    if claim.status == "rejected":
        return "".join(
            f'<span class="warning" data-testid="reject">Reject {escape(r["code"])}: '
            f"{escape(r['meaning'])}.</span> {escape(r['fix'])} "
            for r in claim.rejects
        )
    return f"Claim {escape(claim.get_status_display().lower())}"


def _reject_fix(item, url: str, rx_number: str) -> str:
    """The one action that works the fill's reject (the fix its first known code calls for)."""
    codes = item.claim.reject_codes
    if "79" in codes:
        resubmit = ""
        if getattr(item, "sync_codes_allowed", False):
            resubmit = _post(f"{url}resubmit_scc/", "Resubmit with sync SCC 47/48", key="s")
        return resubmit + _post(
            f"{url}next_anchor/",
            "Move to next anchor",
            css="outline",
            confirm="Take this fill off this cycle? The next anchor fills it.",
        )
    if "76" in codes:
        return _post(f"{url}cut_package/", "Cut to whole package, resubmit", key="s")
    if "75" in codes:
        return (
            f'<form class="inline-form" hx-post="{url}record_pa/"><input name="pa_number" '
            f'class="pa-input" data-key="s" aria-label="PA number for Rx {rx_number}" '
            'placeholder="PA number" maxlength="20" autocomplete="off" required>'
            '<button type="submit">Record PA, resubmit</button></form>'
        )
    if "41" in codes:
        return _post(f"{url}bill_other/", "Bill the other payer", key="s")
    return _post(f"{url}resubmit/", "Resubmit", key="s")


def _actions_cell(item, url: str, *, can_process: bool, can_verify: bool) -> str:
    rx_number = escape(item.prescription.rx_number)
    state = item.state
    if state in _OPEN_STATES:
        parts = []
        if can_process:
            claim = getattr(item, "claim", None)
            if state != ItemState.BILLED and claim is not None and claim.status == "rejected":
                parts.append(_reject_fix(item, url, rx_number))
            elif state == ItemState.PLANNED:
                parts.append(_post(f"{url}bill/", "Start (bill)", key="s"))
            elif state == ItemState.BILLED:
                parts.append(
                    f'<form class="inline-form fill-form" hx-post="{url}fill/"><input name="ndc" '
                    f'class="ndc-input" data-key="f" aria-label="NDC scanned for Rx {rx_number}" '
                    'placeholder="Scan NDC" autocomplete="off" required>'
                    '<button type="submit">Fill <kbd>F</kbd></button></form>'
                )
            else:
                parts.append(_post(f"{url}unflag/", "Cleared", css="outline"))
            if state != ItemState.FLAGGED:
                parts.append(
                    '<button type="button" class="secondary outline" data-key="x" '
                    f'data-flag-url="{url}flag/">Flag <kbd>X</kbd></button>'
                )
        if state == ItemState.FLAGGED and can_verify:
            parts.append(
                _post(
                    f"{url}skip/",
                    "Skip",
                    css="secondary outline",
                    confirm="Skip this fill for this cycle?",
                )
            )
        return "".join(parts)
    if state == ItemState.FILLED:
        if can_verify:
            return _post(f"{url}verify/", "Verify", key="v")
        return "<small>Pharmacist to verify</small>"
    if state == ItemState.READY:
        return "<small>In the bag</small>"
    return f"<small>{escape(item.get_state_display())}</small>"


def render_queue_row(
    item, *, base: str, can_process: bool, can_verify: bool, error: str = ""
) -> SafeString:
    """The <tr> of one fill: what it is, the fill, its state with claim and warnings, and the
    next step this member may take. `item` carries `claim` and `sync_codes_allowed` (see
    scheduling.selectors.attach_claims)."""
    rx = item.prescription
    url = f"{escape(base)}{item.public_id}/"
    pay = f"${escape(item.patient_pay)}" if item.patient_pay is not None else "pay not known"
    codes = "".join(f" · <code>SCC {escape(code)}</code>" for code in item.scc_codes or ())
    quantity = floatformat(item.quantity, "-3")
    row_class = "queue-item has-error" if error else "queue-item"
    return mark_safe(  # noqa: S308 (every value above is escaped)
        f'<tr id="item-{item.public_id}" class="{row_class}" data-testid="queue-item" '
        f'data-state="{escape(item.state)}" tabindex="0" hx-target="this" hx-swap="outerHTML" '
        f'hx-vals=\'{{"version": "{item.version}"}}\'>\n'
        f"  <td>Rx {escape(rx.rx_number)}<br><small>{escape(rx.drug.name)} "
        f"{escape(rx.drug.strength)}</small></td>\n"
        f"  <td>{escape(item.get_kind_display())} {format_date(item.fill_date, 'M j')}<br>"
        f"<small>{quantity} for {item.days_supply} d{codes} · {pay}</small></td>\n"
        f"  <td>{_state_cell(item, error)}</td>\n"
        f'  <td class="actions"><div class="acts">'
        f"{_actions_cell(item, url, can_process=can_process, can_verify=can_verify)}"
        "</div></td>\n</tr>\n"
    )
