"""French for everything a person reads that the code does not say itself.

Errors of the tree (``messages``), Ollama's own English error texts
(``ollama_messages``), job states and capabilities (``wording``), loaded-model
labels (``labels``). Both HTTP faces (``web/`` pages, ``api/`` JSON) phrase
through here, so one error reads the same on a page, in a toast and in JSON.
"""
