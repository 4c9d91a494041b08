"""Pages of the sync engine. The fill queue is the technician's landing page."""

from django.shortcuts import render

from medsync.decorators import require_permission
from medsync.roles import Perm


@require_permission(Perm.VIEW_FILL_QUEUE)
def fill_queue(request):
    # Cycles and their items arrive with the sync engine; until then the queue is empty
    # and the page says how it will fill.
    return render(request, "scheduling/fill_queue.html", {"items": []})
