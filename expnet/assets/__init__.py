"""Files expnet reads but does not make: those it takes from the package registries (the
face-model basis, the sample photos), pinned and cached, with the terms of what it downloads or
ships, and the layout of the research datasets' folder. May import :mod:`expnet.io`."""
