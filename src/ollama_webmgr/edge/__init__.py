"""What every request of the web app goes through, whichever face answers it.

Who acts and the admin password (``auth``, ``attempts``), the session, CSRF,
body limit and headers (``security``), the store per app (``database``), and
the error edge
(``errors``): a ``WebmgrError`` or an HTTP error becomes JSON under ``/api/``
and a French page or fragment elsewhere (the page is drawn by ``web/``, which
hands its renderer over at start). Both faces import from here; nothing here
imports a face, so ``web/`` and ``api/`` stay independent of each other.
"""
