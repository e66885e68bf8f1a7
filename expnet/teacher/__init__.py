"""The landmark teacher (the paper's Eq. 2): 68 landmarks (dlib, or FaceMesh's subset) -> the
batched fit -> label files (``expnet label``; with ``--pose mesh`` the rotation from FaceMesh's 3D
points), and extra expression components learned from its residuals. May import io, assets, face
and detection."""
