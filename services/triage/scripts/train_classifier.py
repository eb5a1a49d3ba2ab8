"""Train the packaged content classifier on Ibrohim & Budi (2019) and Netifier (2018).

    python services/triage/scripts/train_classifier.py \
        --ibrohim /path/to/ibrohim2019/train.csv --netifier /path/to/netifier2018/train.csv \
        --out services/triage/src/pantau_triage/nlp/data [--folds 5]

The recipe is `pantau_triage.nlp.training`, the label mapping `pantau_triage.nlp.corpora`
(both in MODEL_CARD.md). Writes classifier.npz, classifier.json and kamusalay.tsv (built from
new_kamusalay.csv beside the Ibrohim train.csv) into --out. `bench/classifier.py` measures the
recipe across sources and on held-out parts of each corpus.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

from pantau_triage.nlp.classifier import LABELS
from pantau_triage.nlp.corpora import Corpus, read_ibrohim, read_netifier
from pantau_triage.nlp.metrics import LabelScores
from pantau_triage.nlp.normalise import KAMUS_FILENAME, Normaliser
from pantau_triage.nlp.training import SEED, Recipe, train


def build_kamus(source: Path, destination: Path) -> None:
    """Clean new_kamusalay.csv (Latin-1, CRLF, some mojibake) into a UTF-8 TSV."""
    mapping: dict[str, str] = {}
    with source.open(encoding="latin-1", newline="") as handle:
        for slang, standard in csv.reader(handle):
            slang = slang.strip().lower()
            standard = " ".join(re.sub(r"[^a-z0-9 ]", " ", standard.lower()).split())
            # Multi-word or non-ASCII keys can never equal a single normalised token.
            if re.fullmatch(r"[a-z0-9]+", slang) and standard and slang != standard:
                mapping.setdefault(slang, standard)
    lines = [
        "# Derived from new_kamusalay.csv, Ibrohim & Budi (2019), CC BY-NC-SA 4.0; see NOTICE.md",
        *(f"{slang}\t{standard}" for slang, standard in sorted(mapping.items())),
    ]
    destination.write_text("\n".join(lines) + "\n", encoding="utf-8")


def print_table(title: str, scores: dict[str, LabelScores]) -> None:
    print(f"\n{title}\n{'label':<22}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
    for label, s in scores.items():
        print(f"{label:<22}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>8.3f}{s.support:>9d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ibrohim", type=Path, required=True, help="ibrohim2019/train.csv")
    parser.add_argument("--netifier", type=Path, required=True, help="netifier2018/train.csv")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    build_kamus(args.ibrohim.with_name("new_kamusalay.csv"), args.out / KAMUS_FILENAME)
    normaliser = Normaliser.from_file(args.out / KAMUS_FILENAME)
    corpus = Corpus.concat("both", [read_ibrohim(args.ibrohim), read_netifier(args.netifier)])
    texts = [normaliser(t) for t in corpus.texts]
    recipe = Recipe(folds=args.folds)
    print(f"{len(texts)} texts, {args.folds}-fold CV, seed {SEED}", flush=True)
    model = train(texts, corpus.targets, LABELS, recipe)
    print_table(
        "CV over both corpora, calibrated + threshold tuned on the other folds", model.cross_validated
    )
    path = model.save(
        args.out,
        {
            "method": recipe.describe(),
            "training_data": "Ibrohim & Budi (2019) train.csv, 10,609 tweets, CC BY-NC-SA 4.0; "
            "Netifier (Izzan, Wibisono, Putra 2018) train.csv, 6,995 Twitter/Instagram/Kaskus "
            "posts, CC BY-NC-SA 4.0 (per NusaCrowd); label mapping in pantau_triage.nlp.corpora",
            "licence": "CC-BY-NC-SA-4.0",
            "seed": SEED,
            "cv_folds": args.folds,
        },
    )
    print(f"\nwrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
