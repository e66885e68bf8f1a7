"""The landmark teacher (the paper's Eq. 2): 68 landmarks (dlib, or FaceMesh's subset) -> the
batched fit -> label files (``expnet label``), and extra expression components learned from its
residuals. May import io, assets, face and detection."""
