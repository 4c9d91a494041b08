"""Forms of the patients pages: they read what a page posts, under the same field names.

The rules themselves (which decisions need a reason or a note, what a CSV file may hold)
live in the services; the forms only turn the request into typed values.
"""

from __future__ import annotations

from django import forms


class SyncDecisionForm(forms.Form):
    """A pharmacist's sync decision on one prescription (validated by prescription_sync_decide)."""

    decision = forms.CharField(required=False, strip=False)
    reason = forms.CharField(required=False, strip=False)
    note = forms.CharField(required=False, strip=False)


class MultipleFileInput(forms.FileInput):
    """A file input that submits several files under one name."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several uploaded files under one name, cleaned to a list (empty when none)."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class ImportUploadForm(forms.Form):
    """The CSV files of an import (field `files`); their content is checked by the import."""

    files = MultipleFileField(required=False, allow_empty_file=True)
