"""The DARTS cell space with UNAS's factorized cells; `space.DartsSpace` is its entry point."""
