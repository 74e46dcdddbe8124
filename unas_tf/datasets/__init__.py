"""Data sets: the registry (`base`), one module per built-in set and per way in for a user's
images, and the pipeline parts they share."""
