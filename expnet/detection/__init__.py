"""Finding faces and cutting crops: the box convention, the detector backends (BlazeFace and
FaceMesh on LiteRT, dlib, OpenCV) and their chains, and the network's square crop. May import
:mod:`expnet.io` and :mod:`expnet.assets`; never :mod:`expnet.face`."""
