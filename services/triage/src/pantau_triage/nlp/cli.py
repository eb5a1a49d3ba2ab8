"""`classify` and `evaluate` subcommands for the pantau-triage CLI.

    pantau-triage classify < posts.jsonl > scored.jsonl
    pantau-triage evaluate labelled.csv [--model classifier.npz]

Also runnable on its own: ``python -m pantau_triage.nlp.cli classify``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from pantau_triage.nlp.classifier import ContentClassifier
from pantau_triage.nlp.metrics import label_scores
from pantau_triage.nlp.rules import RuleSet

__all__ = ["add_commands", "classify_command", "evaluate_command", "main"]

BATCH_SIZE = 256
# evaluate reads train.csv's column names; labels map to them case-insensitively.
_TEXT_COLUMN = "Tweet"


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    classify = subparsers.add_parser(
        "classify", help="score JSON lines {'id', 'text'} from stdin, write JSON lines"
    )
    classify.add_argument("--model", type=Path, default=None, help="classifier.npz")
    classify.add_argument("--lexicons", type=Path, default=None, help="directory of *.toml")
    classify.set_defaults(handler=classify_command)

    evaluate = subparsers.add_parser("evaluate", help="per-label scores on a labelled CSV")
    evaluate.add_argument("path", type=Path, help="CSV in the Ibrohim & Budi train.csv format")
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
    with args.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {name.lower(): name for name in (rows[0].keys() if rows else [])}
    missing = [lb for lb in classifier.labels if lb not in columns]
    if not rows or _TEXT_COLUMN.lower() not in columns or missing:
        stdout.write(f"error: need columns {_TEXT_COLUMN} and {', '.join(missing)}\n")
        return 2
    texts = [row[columns[_TEXT_COLUMN.lower()]] for row in rows]
    started = time.perf_counter()
    predictions = classifier.predict(texts)
    elapsed = time.perf_counter() - started
    stdout.write(f"{'label':<15}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}\n")
    for label in classifier.labels:
        truth = np.array([int(row[columns[label]]) for row in rows])
        scores = label_scores(truth, np.array([label in p.labels for p in predictions]))
        stdout.write(
            f"{label:<15}{scores.precision:>10.3f}{scores.recall:>10.3f}"
            f"{scores.f1:>8.3f}{scores.support:>9d}\n"
        )
    stdout.write(f"{len(texts)} texts, {len(texts) / max(elapsed, 1e-9):,.0f} texts/s\n")
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
