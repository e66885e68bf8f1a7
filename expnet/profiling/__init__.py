"""Face profiling (Zhu et al., CVPR 2016): new views of a fitted face at other head poses, with
exact labels, made from the fit, the mesh and the rasteriser. ``texture`` colours the mesh from the
image, ``profiler`` renders a face and its background at a new pose, ``job`` runs it over label
files (``expnet profile``)."""
