"""Where a traced request keeps its spans: read by the GraphQL layer, written by `spans`.

Its own module so that `app.tracing.spans` need not import the package that loads it.
"""

from __future__ import annotations

SPANS = "keyrack.spans"
"""The scope key under which a traced request keeps its `spans.RequestSpans`."""
