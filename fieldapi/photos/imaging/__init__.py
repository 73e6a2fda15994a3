"""Judging uploaded bytes as photo evidence, and making the copies that phones are shown.

Plain functions over seekable binary file objects, always read from offset 0; no web
framework, database or blob store here. ``facts.inspect`` checks an original (which is kept
untouched as evidence) and reads its facts; ``derivatives.derivatives`` makes the display
image and the thumbnail, upright and without any metadata; ``single_decode.process`` does
both from a single decode, which is what verifying an upload needs. All refuse what is not an
accepted photo with ``rejections.ImageRejected``.

The modules, from the bytes up:

- ``rejections``: ``ImageRejected`` and the refusals the others share.
- ``formats``: the accepted formats and decoders, telling a format from the bytes alone, and
  why bytes no accepted decoder opens were refused.
- ``trailing_data``: walking each container to where its picture ends, so that data appended
  to a photo is refused and a truncated file is told from a damaged one.
- ``decoding``: opening with the accepted decoders only, the pixel limit and decompression
  bombs, decoding every pixel once, and libjpeg's reduced-scale (draft) decode.
- ``pixels``: RGB, resizing and turning upright, shared by the hash and the derivatives.
- ``perceptual_hash``: the 64-bit pHash and the distance between two.
- ``facts``: what an accepted original is and says about itself (``inspect``).
- ``derivatives``: the display image and the thumbnail, and their JPEG encoding.
- ``single_decode``: facts and derivatives from one decode (``process``).
"""
