"""ollama-webmgr: manage the models of one Ollama server or a whole fleet."""

__version__ = "0.1.0"
