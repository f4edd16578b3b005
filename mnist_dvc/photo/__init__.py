"""Photo → digits: turn a photo or scan of handwriting into 28x28 MNIST-style frames, one per digit.

The steps, in order, each a module of this package:

1. load: EXIF orientation applied; 16-bit, palette, alpha and CMYK images made plain RGB on white paper;
   read reduced, and where the digits come out small, read again closer (read.read_photo).
2. colour (light): of the grey and the red channel, the one where ink stands out most from the paper
   (blue ink on yellowish paper is darkest in the red channel).
3. light: the paper's brightness estimated at a large scale (a morphological closing that removes every
   stroke, rebuilt where it filled a shadow's corner, but never along a stroke) and divided out, so
   shadows, gradients and vignetting are paper, not ink.
4. ink: a threshold with hysteresis on the flattened image, set from its own noise and ink levels.
5. segment: connected pieces of ink, specks dropped, the pieces of one digit joined (a detached top of a
   5, a broken stroke), marks far shorter than a digit dropped, a piece much wider than a digit split,
   grouped into lines, left to right; and neighbours that may still be one digit offered joined too, for
   the model to choose (mnist_dvc.reading).
6. frame: each digit's stroke width brought to MNIST's, then MNIST's own preparation: cropped, longer
   side 20 px, centre of mass at the centre of 28x28.

The shapes passed between the steps are in types.py. Nothing here imports TensorFlow.
"""

from mnist_dvc.photo.draw import draw_boxes
from mnist_dvc.photo.load import IMAGE_SUFFIXES, load_image
from mnist_dvc.photo.read import find_digits, read_photo
from mnist_dvc.photo.types import Box, Digit, Found, Join, Photo

__all__ = ["IMAGE_SUFFIXES", "Box", "Digit", "Found", "Join", "Photo", "draw_boxes", "find_digits", "load_image",
           "read_photo"]
