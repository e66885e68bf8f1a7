"""Landmark-free inference: image -> face detection -> crops -> network (onnxruntime) ->
expression, pose and shape (:class:`expnet.inference.predictor.ExpNet`), for images, videos,
cameras and whole jobs with their outputs. May import io, assets, face and detection; never
torch or the teacher."""
