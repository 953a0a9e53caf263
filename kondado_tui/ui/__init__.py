"""The live dashboard (Textual). Imports nothing that talks HTTP: it drives a Session."""
