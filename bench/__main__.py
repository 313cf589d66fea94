"""`python -m bench` (`make bench`): the one entry; see bench/suite.py for what it measures,
bench/soak.py for `python -m bench soak`, bench/image.py for `python -m bench image`,
bench/cloudrun.py for `python -m bench cloudrun`, bench/trees.py for `python -m bench trees`,
bench/photos.py for `python -m bench photos`, bench/text.py for `python -m bench text`."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("PYTHONHASHSEED", "0")
if sys.argv[1:2] == ["soak"]:  # `python -m bench soak …`: the soak scenario (bench/soak.py)
    from bench.soak import main as soak

    raise SystemExit(soak(sys.argv[2:]))
if sys.argv[1:2] == ["image"]:  # `python -m bench image …`: the container image (bench/image.py)
    from bench.image import main as image

    raise SystemExit(image(sys.argv[2:]))
if sys.argv[1:2] == ["cloudrun"]:  # `python -m bench cloudrun …`: local Cloud Run (cloudrun.py)
    from bench.cloudrun import main as cloudrun

    raise SystemExit(cloudrun(sys.argv[2:]))
if sys.argv[1:2] == ["photos"]:  # `python -m bench photos …`: image preprocessing (photos.py)
    from bench.photos import main as photos

    raise SystemExit(photos(sys.argv[2:]))
if sys.argv[1:2] == ["trees"]:  # `python -m bench trees …`: float32 against double trees
    from bench.trees import main as trees

    raise SystemExit(trees(sys.argv[2:]))
if sys.argv[1:2] == ["text"]:  # `python -m bench text …`: transformer text models (text.py)
    from bench.text import main as text

    raise SystemExit(text(sys.argv[2:]))
from bench.suite import main  # noqa: E402 - after the choice of scenario

raise SystemExit(main())
