"""Coefficients -> 3D mesh -> pixels: reconstruction, a numpy z-buffer rasteriser, overlays,
frontal renders, overlay videos and the render job. May import io, assets, face, detection and
inference."""
