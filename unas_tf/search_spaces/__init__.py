"""Search spaces: their ops as lean Keras layers, supernets, and the networks they describe."""
