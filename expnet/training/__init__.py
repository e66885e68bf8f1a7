"""Labels -> training crops -> the network (plain torch) -> ONNX and its model card
(``expnet train``, ``expnet export``). The one part of expnet that imports torch; its settings
(``config``) do not, so that the command line reads their defaults without it."""
