"""URL names are unique: a page and an API route with one name make {% url %} pick either."""

from collections import Counter

from django.urls import URLPattern, URLResolver, get_resolver


def _names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{pattern.namespace}:" if pattern.namespace else ""
            yield from _names(pattern.url_patterns, prefix + namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name


def test_no_url_name_is_defined_twice():
    counts = Counter(
        name for name in _names(get_resolver().url_patterns) if not name.startswith("admin:")
    )
    assert [name for name, n in counts.items() if n > 1] == []


def test_page_names_reverse_to_pages():
    from django.urls import reverse

    assert reverse("patient-list") == "/patients/"
    assert reverse("pharmacy-list") == "/pharmacies/"
