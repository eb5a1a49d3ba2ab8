"""Build a labelled near-duplicate evaluation set from base texts, at evaluation time.

Positives are a base text and a WhatsApp-style forward of it (or two independent forwards of it):
headers such as "Diteruskan" or "*PENTING*", "Sumber: ..." footers, emoji, links, case and
punctuation changes, re-spacing, chat spellings, a typo, a line added or removed. Negatives are two
different texts; the hard ones are two different texts about the same fact-checked topic.

The Suryadikara tweets may not be shipped with Pantau, so nothing built here is committed: pass the
path of `train.tsv` (topics, hence hard negatives) and/or the Ibrohim `train.csv` (positives and
random negatives only), and write the pairs to a scratch file or let `eval_dedupe.py` build them in
memory.

    python services/triage/scripts/build_dedupe_eval.py \\
        --data /work/shared/data/suryadikara2019/train.tsv --out /tmp/dedupe_pairs.jsonl
"""

from __future__ import annotations

import argparse
import csv
import difflib
import itertools
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_SEED = 2024
# Source tweets of one topic often are the same headline shared by two accounts (with different
# links, mentions, hashtags or a comment): such a pair is a duplicate in Pantau's sense, not a
# negative, so it is left out. Judged on the raw text without links, mentions and hashtags, by
# difflib (not by the measure under evaluation): overall ratio, or one shared run of characters
# covering most of the shorter text.
AMBIGUOUS_RATIO = 0.8
AMBIGUOUS_SHARED_RUN = 0.6
_NOT_PROSE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")
MIN_BASE_WORDS = 6


@dataclass(frozen=True, slots=True)
class LabelledPair:
    text_a: str
    text_b: str
    duplicate: bool
    kind: str


@dataclass(frozen=True, slots=True)
class BaseText:
    text: str
    topic: str | None


def read_base_texts(path: Path) -> list[BaseText]:
    """Tweets of the Suryadikara `train.tsv` (with topic) or the Ibrohim `train.csv` (without)."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".tsv":
            rows = csv.DictReader(handle, delimiter="\t")
            texts = [BaseText(row["tweets"], row["topic"]) for row in rows]
        else:
            rows = csv.DictReader(handle)
            texts = [BaseText(_unescape_ibrohim(row["Tweet"]), None) for row in rows]
    unique = {base.text: base for base in texts if len(base.text.split()) >= MIN_BASE_WORDS}
    return list(unique.values())


def build_pairs(bases: list[BaseText], seed: int = DEFAULT_SEED) -> list[LabelledPair]:
    """Positive and negative pairs in equal-ish numbers, deterministic for a seed."""
    rng = random.Random(seed)
    pairs = [_positive(base.text, rng) for base in bases]
    pairs += _hard_negatives(bases, rng, limit=len(bases))
    pairs += _random_negatives(bases, rng, count=len(bases) // 2)
    return pairs


def write_pairs(pairs: list[LabelledPair], out: Path) -> None:
    with out.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")


def read_pairs(path: Path) -> list[LabelledPair]:
    with path.open(encoding="utf-8") as handle:
        return [LabelledPair(**json.loads(line)) for line in handle if line.strip()]


def load_or_build(path: Path, seed: int = DEFAULT_SEED) -> list[LabelledPair]:
    """Pairs from a built `.jsonl`, or built now from a `.tsv` / `.csv` of base texts."""
    if path.suffix == ".jsonl":
        return read_pairs(path)
    return build_pairs(read_base_texts(path), seed)


# --- positives: what a chain of WhatsApp forwards does to a message -------------------------

_HEADERS = [
    "Diteruskan",
    "*Diteruskan*",
    "Forwarded",
    "Forwarded many times",
    "*PENTING*",
    "‼️ INFO PENTING ‼️",
    "Dari grup sebelah",
    "dari grup sebelah 👇👇",
    "Copas dari grup alumni",
    "copas",
    "Fwd:",
    "_Diteruskan berkali-kali_",
    "*BREAKING NEWS*",
    "Info dari grup RT",
]
_FOOTERS = [
    "Sumber: grup WA keluarga",
    "Sumber: https://bit.ly/3xHoaks",
    "Sebarkan!",
    "Mohon sebarkan",
    "VIRALKAN!!",
    "cc: grup warga",
    "https://t.co/AbCdEf123",
    "Sumber : kompas.com",
]
_ADDED_LINES = [
    "Semoga bermanfaat.",
    "Hati-hati ya bapak ibu.",
    "Jangan sampai salah pilih!",
    "Tolong dibaca sampai habis.",
    "Waspadalah!",
    "Astaghfirullah...",
    "Ini bukan hoax ya.",
]
_EMOJI = ["🔥", "‼️", "😱", "🙏", "👇", "⚠️", "😡", "🇮🇩", "✅", "❗"]
_CHAT_SPELLINGS = {
    "yang": "yg",
    "dengan": "dgn",
    "untuk": "utk",
    "tidak": "gak",
    "sudah": "udah",
    "jangan": "jgn",
    "karena": "krn",
    "dari": "dr",
    "bapak": "bpk",
    "sekarang": "skrg",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

Mutation = Callable[[str, random.Random], str]


def _add_header(text: str, rng: random.Random) -> str:
    return f"{rng.choice(_HEADERS)}\n{text}"


def _add_footer(text: str, rng: random.Random) -> str:
    return f"{text}\n\n{rng.choice(_FOOTERS)}"


def _sprinkle_emoji(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randint(0, len(words)), rng.choice(_EMOJI) * rng.randint(1, 3))
    return " ".join(words)


def _change_case(text: str, rng: random.Random) -> str:
    return rng.choice([str.upper, str.lower, str.title])(text)


def _change_punctuation(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return re.sub(r"[.,!?;:\"']", "", text)
    return re.sub(r"([.!?])", lambda m: m.group(1) * rng.randint(1, 3), text) + "!!!"


def _respace(text: str, rng: random.Random) -> str:
    text = _SENTENCE_END.sub(lambda _: rng.choice(["\n", "\n\n", "  "]), text)
    return re.sub(" ", lambda _: "  " if rng.random() < 0.1 else " ", text)


def _chat_spelling(text: str, rng: random.Random) -> str:
    return re.sub(
        r"\b(" + "|".join(_CHAT_SPELLINGS) + r")\b",
        lambda m: _CHAT_SPELLINGS[m.group(1)] if rng.random() < 0.7 else m.group(1),
        text,
    )


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    long_words = [i for i, word in enumerate(words) if len(word) > 4 and word.isalpha()]
    for index in rng.sample(long_words, min(len(long_words), rng.randint(1, 2))):
        word = words[index]
        cut = rng.randint(1, len(word) - 2)
        words[index] = word[:cut] + word[cut + 1 :]
    return " ".join(words)


def _add_line(text: str, rng: random.Random) -> str:
    return f"{text}\n{rng.choice(_ADDED_LINES)}"


def _remove_part(text: str, rng: random.Random) -> str:
    sentences = _SENTENCE_END.split(text)
    if len(sentences) >= 3:
        sentences.pop(rng.randrange(1, len(sentences)))
        return " ".join(sentences)
    words = text.split(" ")
    # a forward that lost its tail: at most a fifth of the words
    drop = max(1, len(words) // 5) if len(words) >= 10 else 0
    return " ".join(words[: len(words) - drop]) if drop else text


_MUTATIONS: list[Mutation] = [
    _add_header,
    _add_footer,
    _sprinkle_emoji,
    _change_case,
    _change_punctuation,
    _respace,
    _chat_spelling,
    _typo,
    _add_line,
    _remove_part,
]


def forward_variant(text: str, rng: random.Random) -> tuple[str, str]:
    """Apply two to four forward-chain mutations; returns the text and their names."""
    chosen = rng.sample(_MUTATIONS, rng.randint(2, 4))
    for mutation in chosen:
        text = mutation(text, rng)
    return text, "+".join(m.__name__.lstrip("_") for m in chosen)


def _positive(text: str, rng: random.Random) -> LabelledPair:
    variant, kind = forward_variant(text, rng)
    if rng.random() < 0.3:
        # two reporters forwarding along different chains: neither copy is the original
        other, other_kind = forward_variant(text, rng)
        return LabelledPair(other, variant, True, f"positive:two_chains({other_kind}|{kind})")
    return LabelledPair(text, variant, True, f"positive:{kind}")


# --- negatives -------------------------------------------------------------------------------


def _hard_negatives(bases: list[BaseText], rng: random.Random, limit: int) -> list[LabelledPair]:
    by_topic: dict[str, list[str]] = {}
    for base in bases:
        if base.topic is not None:
            by_topic.setdefault(base.topic, []).append(base.text)
    candidates = [pair for texts in by_topic.values() for pair in itertools.combinations(texts, 2)]
    rng.shuffle(candidates)
    pairs = []
    excluded = 0
    for text_a, text_b in candidates:
        if len(pairs) >= limit:
            break
        if _looks_same(text_a, text_b):
            excluded += 1
            continue
        if rng.random() < 0.5:
            text_b, _ = forward_variant(text_b, rng)
        pairs.append(LabelledPair(text_a, text_b, False, "negative:same_topic"))
    print(f"same-topic pairs left out as shared headlines (ambiguous): {excluded}")
    return pairs


def _random_negatives(bases: list[BaseText], rng: random.Random, count: int) -> list[LabelledPair]:
    pairs: list[LabelledPair] = []
    for _ in range(count):
        first, second = rng.sample(bases, 2)
        if first.topic is not None and first.topic == second.topic:
            continue
        pairs.append(LabelledPair(first.text, second.text, False, "negative:random"))
    return pairs


def _looks_same(text_a: str, text_b: str) -> bool:
    prose_a, prose_b = (" ".join(_NOT_PROSE.sub(" ", t.lower()).split()) for t in (text_a, text_b))
    matcher = difflib.SequenceMatcher(None, prose_a, prose_b, autojunk=False)
    shorter = min(len(prose_a), len(prose_b))
    longest = matcher.find_longest_match().size
    return matcher.ratio() >= AMBIGUOUS_RATIO or longest >= AMBIGUOUS_SHARED_RUN * shorter


def _unescape_ibrohim(text: str) -> str:
    # emoji are stored as literal "\xf0\x9f..." escapes; they are noise for this purpose
    return re.sub(r"\\x[0-9a-fA-F]{2}", " ", text).replace("USER", "@user").replace("URL", "")


def _summary(pairs: list[LabelledPair]) -> Iterator[str]:
    kinds: dict[str, int] = {}
    for pair in pairs:
        key = pair.kind.split("(")[0] if pair.duplicate else pair.kind
        key = "positive" if pair.duplicate else key
        kinds[key] = kinds.get(key, 0) + 1
    for kind, count in sorted(kinds.items()):
        yield f"{kind}: {count}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="train.tsv or train.csv")
    parser.add_argument("--out", type=Path, required=True, help="where to write the .jsonl")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    pairs = build_pairs(read_base_texts(args.data), args.seed)
    write_pairs(pairs, args.out)
    print(f"wrote {len(pairs)} pairs to {args.out}")
    for line in _summary(pairs):
        print(f"  {line}")


if __name__ == "__main__":
    main()
