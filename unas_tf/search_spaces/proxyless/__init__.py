"""The ProxylessNAS space of UNAS; `space.ProxylessSpace` is its entry point."""
