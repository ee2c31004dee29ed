"""Rebuild ``movie_snippets.tsv.gz`` from the VADER data set in the vaderSentiment sdist (run once, by hand).

The course does not depend on vaderSentiment. The sdist (not the wheel) carries the data set of
Hutto & Gilbert (2014) in ``additional_resources/hutto_ICWSM_2014.tar.gz``; this script reads
``movieReviewSnippets_GroundTruth.txt`` from it::

    pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 -d /tmp/dl
    python scripts/data/extract_sentiment.py /tmp/dl/vaderSentiment-3.3.2.tar.gz \\
        companion/data/files/movie_snippets.tsv.gz

Each line of the source is ``id<TAB>mean rating<TAB>snippet``: a sentence from a Rotten Tomatoes
review and the mean of about 20 people's ratings of its sentiment on a scale from -4 to +4. Only
the clearly polar snippets are kept (``|rating| >= 1``), each distinct sentence once (the first
time it occurs: the source repeats some). The output has one line per snippet,
``split<TAB>rating<TAB>snippet``, in the source's order; ``split`` is ``train`` or ``test``, a
fixed 80/20 draw (numpy generator, seed 12). The file is written with gzip's mtime set to 0, so
the same input gives the same bytes.
"""

import gzip
import io
import sys
import tarfile

import numpy as np

ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
THRESHOLD = 1.0


def main(sdist: str, out: str) -> None:
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile(ARCHIVE).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        text = inner.extractfile(MEMBER).read().decode("utf-8")
    rows, seen = [], set()
    for line in text.splitlines():
        if not line.strip():
            continue
        _, rating, snippet = line.split("\t")
        snippet = " ".join(snippet.split())
        if abs(float(rating)) >= THRESHOLD and snippet not in seen:  # a repeated sentence is kept once
            rows.append((float(rating), snippet))
            seen.add(snippet)
    test = np.random.default_rng(12).random(len(rows)) < 0.2
    lines = [f"{'test' if t else 'train'}\t{r:.3f}\t{s}\n" for (r, s), t in zip(rows, test, strict=True)]
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write("".join(lines).encode("utf-8"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
