"""Realistic phone photos of handwriting, rendered: MNIST digits and handwriting fonts' symbols, marks
drawn by hand, on plain, ruled or squared paper, from near by or far away.

A photo is made the way a real one comes about, each step a module:

1. pen (pen.py, fonts.py, marks.py): an MNIST digit's shape redrawn along its centre line with a pen of a
   given width, from a fine ballpoint to a marker, with the pen's texture; a font's glyph slanted and its
   strokes made as wide as the pen's; a mark (a tick, a star, a scribble) drawn stroke by stroke;
2. page (page.py, papers.py): the symbols placed on one line or on several, and the paper's printing
   (ruled lines, a margin, a grid) under them;
3. camera (camera.py): the page slightly rotated and seen in perspective, blurred by the lens, a defocus
   or a moving hand;
4. light (light.py): tinted, textured paper, lit by an even light, a gradient, vignetting, or a soft or
   hard-edged shadow;
5. sensor (sensor.py): sensor noise, and the file: JPEG at a varied quality, or PNG, sometimes scaled
   down and re-encoded as a messaging app does.

compose.py runs them in order. Every random choice comes from the numpy Generator passed in, so a seed
gives the same photo, byte for byte; the conditions drawn are returned with the photo as labels, for a
breakdown of what fails. Nothing here imports TensorFlow.

To make training photos: render_glyphs(lines, rng) with glyphs of the training families only, e.g.
    fonts = family_fonts(Path("data/raw/fonts"), params.load("fonts").train)
    rendered = render_glyphs([font_glyphs("2026", fonts["caveat"]), [Glyph("tick")]], rng)
gives the photo's file (rendered.data) and its ground truth (rendered.symbols, .boxes, .lines, .number).
"""

from mnist_dvc.render.compose import Glyph, Layout, font_glyphs, mnist_glyphs, render_glyphs, render_photo
from mnist_dvc.render.conditions import (
    ALL_CONDITIONS,
    CONDITIONS,
    SCENE,
    SIDES,
    Conditions,
    Rendered,
    draw_conditions,
)
from mnist_dvc.render.fonts import family_fonts
from mnist_dvc.render.marks import MARKS

__all__ = ["ALL_CONDITIONS", "CONDITIONS", "MARKS", "SCENE", "SIDES", "Conditions", "Glyph", "Layout",
           "Rendered", "draw_conditions", "family_fonts", "font_glyphs", "mnist_glyphs", "render_glyphs",
           "render_photo"]
