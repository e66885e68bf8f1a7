"""The paper's experiments (``expnet evaluate``): emotion datasets -> feature methods -> 5-NN
leave-one-group-out -> reports; head pose on AFLW2000-3D-style folders; models compared on the
same items with paired tests."""
