"""The 3D face: the linear morphable model and its extra expression components, 6-DoF pose, the
project-built mesh and the iBUG-68 landmark scheme. May import :mod:`expnet.io` and
:mod:`expnet.assets`; never :mod:`expnet.detection`."""
