from ollama_webmgr.cli import main

main()
