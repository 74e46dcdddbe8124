"""Search spaces: the registry (`base`), one package per space, and the parts they share."""
