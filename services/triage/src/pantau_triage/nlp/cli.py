"""`classify` and `evaluate` subcommands for the pantau-triage CLI.

    pantau-triage classify < posts.jsonl > scored.jsonl
    pantau-triage evaluate labelled.csv [--model classifier.npz]   (Ibrohim or Netifier format)

Also runnable on its own: ``python -m pantau_triage.nlp.cli classify``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from pantau_triage.nlp.classifier import LABELS, ContentClassifier
from pantau_triage.nlp.corpora import read_corpus
from pantau_triage.nlp.metrics import label_scores
from pantau_triage.nlp.rules import RuleSet

__all__ = ["add_commands", "classify_command", "evaluate_command", "main"]

BATCH_SIZE = 256


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    classify = subparsers.add_parser(
        "classify", help="score JSON lines {'id', 'text'} from stdin, write JSON lines"
    )
    classify.add_argument("--model", type=Path, default=None, help="classifier.npz")
    classify.add_argument("--lexicons", type=Path, default=None, help="directory of *.toml")
    classify.set_defaults(handler=classify_command)

    evaluate = subparsers.add_parser("evaluate", help="per-label scores on a labelled CSV")
    evaluate.add_argument(
        "path", type=Path, help="CSV in the Ibrohim & Budi or the Netifier train.csv format"
    )
    evaluate.add_argument("--model", type=Path, default=None, help="classifier.npz")
    evaluate.set_defaults(handler=evaluate_command)


def classify_command(
    args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    classifier = ContentClassifier.load(args.model)
    rules = RuleSet.load(args.lexicons)
    for batch in _batches(_parse_lines(stdin), BATCH_SIZE):
        valid = [item for item in batch if "error" not in item]
        predictions = iter(classifier.predict([item["text"] for item in valid]))
        for item in batch:
            if "error" in item:
                record: dict[str, Any] = item
            else:
                prediction = next(predictions)
                record = {
                    "id": item["id"],
                    "normalised": prediction.normalised,
                    "scores": {k: round(v, 4) for k, v in prediction.scores.items()},
                    "labels": sorted(prediction.labels),
                    "rule_hits": [
                        {**asdict(hit), "matched": list(hit.matched)}
                        for hit in rules.match(prediction.normalised)
                    ],
                }
            stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def evaluate_command(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    classifier = ContentClassifier.load(args.model)
    try:
        corpus = read_corpus(args.path)
    except (ValueError, KeyError) as error:
        # Another format, a missing column or a label that is not 0/1: said, not a traceback.
        stdout.write(f"error: {error}\n")
        return 2
    started = time.perf_counter()
    predictions = classifier.predict(corpus.texts)
    elapsed = time.perf_counter() - started
    stdout.write(f"{'label':<22}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}\n")
    for label in classifier.labels:
        column = corpus.targets[:, LABELS.index(label)] if label in LABELS else None
        if column is None or not (column >= 0).any():
            continue  # this corpus does not annotate the label
        known = column >= 0
        found = np.array([label in p.labels for p in predictions])
        scores = label_scores(column[known], found[known])
        stdout.write(
            f"{label:<22}{scores.precision:>10.3f}{scores.recall:>10.3f}"
            f"{scores.f1:>8.3f}{scores.support:>9d}\n"
        )
    stdout.write(f"{len(corpus)} texts, {len(corpus) / max(elapsed, 1e-9):,.0f} texts/s\n")
    return 0


def _parse_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield {"id": None, "error": f"invalid JSON: {exc.msg}"}
            continue
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            item_id = item.get("id") if isinstance(item, dict) else None
            yield {"id": item_id, "error": "expected an object with a string 'text'"}
            continue
        yield {"id": item.get("id"), "text": item["text"]}


def _batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pantau-triage-nlp", description=__doc__.split("\n")[0])
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
