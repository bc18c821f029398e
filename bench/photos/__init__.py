"""`make bench-photos`: mnist-predict on photos of digits the model never trained on.

MNIST's test digits are written large on paper and photographed (`make`): lit unevenly,
blurred, noisy, saved as JPEG, off-centre, rotated, dark ink on light paper or light on
dark, each alone and all together; digits printed in the machine's fonts at several sizes
too. mnist-predict's own path (tools.predict: files, then images.prepared, then the served
model) answers each, and the bench reports each condition's accuracy against the clean
scans (the same digits as MNIST has them), the median probability of its wrong answers
and how many answers were flagged unsure. Results in bench/results/photos.json, the table
in docs/serving.md, and docs/images/photos.png shows what the model sees of a few photos.

    DATA_MIRROR=../shared/data/mnist python -m bench.photos [--model models/serving]
"""
