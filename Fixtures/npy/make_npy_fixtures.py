#!/usr/bin/env python3
"""Writes the small NPY files that Tests/LiftCAMTests/NPYFixtureTests.swift decodes.

Run once from the repository root (python3 with numpy; CI does not run it):

    python3 Fixtures/npy/make_npy_fixtures.py

The values are stated here so the Swift tests can recompute them exactly in Float32:

    f4_2x3x4.npy      (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 7     np.save
    f4_special.npy    [0, -0.0, 1e-45, 3.4028235e38, -inf, nan] float32                  np.save
    f8_6.npy          np.concatenate([np.arange(4) / 7, [1e40, -1e-50]]) float64         np.save
    f4_v2.npy         np.arange(3, dtype=np.float32) * 0.5, format version 2.0
    f4_v3.npy         np.arange(3, dtype=np.float32) * 0.5, format version 3.0
    f4_scalar.npy     np.float32(-1.25), a 0-d array (shape ())
    f4_empty_0x3.npy  np.zeros((0, 3), np.float32)
    f4_rank14.npy     ((np.arange(200, dtype=np.float32) - 100) / 8).reshape((2, 100) + (1,) * 12):
                      numpy's 20 spare header spaces for a growing first axis make its header
                      exactly 128 bytes, which numpy pads to 192; with 19 it would be 128
and files the reader must refuse:
    f4_big_endian.npy np.arange(3, dtype='>f4')
    f4_fortran.npy    np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    i8_3.npy          np.arange(3, dtype='<i8')   (like PyTorch's num_batches_tracked)
    object.npy        np.array([1, 'a', None], dtype=object), saved with allow_pickle=True
    f4_truncated.npy  np.save of np.arange(10, dtype=np.float32), last 8 bytes cut off
"""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(here, name)


def main():
    np.save(path("f4_2x3x4.npy"), (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 7)
    np.save(path("f4_special.npy"),
            np.array([0, -0.0, 1e-45, 3.4028235e38, -np.inf, np.nan], dtype=np.float32))
    np.save(path("f8_6.npy"), np.concatenate([np.arange(4) / 7, [1e40, -1e-50]]).astype(np.float64))
    for version in [(2, 0), (3, 0)]:
        with open(path(f"f4_v{version[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, np.arange(3, dtype=np.float32) * 0.5, version=version)
    np.save(path("f4_scalar.npy"), np.float32(-1.25))
    np.save(path("f4_empty_0x3.npy"), np.zeros((0, 3), np.float32))
    np.save(path("f4_rank14.npy"), ((np.arange(200, dtype=np.float32) - 100) / 8).reshape((2, 100) + (1,) * 12))

    np.save(path("f4_big_endian.npy"), np.arange(3, dtype=">f4"))
    np.save(path("f4_fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(path("i8_3.npy"), np.arange(3, dtype="<i8"))
    np.save(path("object.npy"), np.array([1, "a", None], dtype=object), allow_pickle=True)
    np.save(path("f4_truncated.npy"), np.arange(10, dtype=np.float32))
    with open(path("f4_truncated.npy"), "r+b") as f:
        f.truncate(os.path.getsize(path("f4_truncated.npy")) - 8)

    # Check what the tests rely on: the versions written, and that the orders really differ.
    with open(path("f4_v3.npy"), "rb") as f:
        assert f.read(8) == b"\x93NUMPY\x03\x00"
    assert np.load(path("f4_fortran.npy")).flags.f_contiguous
    assert os.path.getsize(path("f4_rank14.npy")) == 192 + 800


if __name__ == "__main__":
    main()
