"""Write a synthetic KPU participant-account CSV (the columns of pantau_triage/elections/README.md).

The default is the size of Kabupaten Lombok Barat's DPRD list for Pemilu 2024: 655 candidates
with 20 accounts each, 13,100 rows. Names are Sasak/Indonesian-style, parties are the 18
national parties of Pemilu 2024, handles are the variants people register ("budisantoso",
"budi.santoso", "budi_santoso_official", "budisantoso.dprd", a Facebook profile.php?id= URL...).
Nothing here is real data.

    .venv/bin/python services/triage/scripts/make_registry_sample.py --out accounts.csv \\
        --candidates 655 --accounts 20
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

from pantau_triage.registries import ACCOUNT_COLUMNS, HandleError, normalise_handle

PARTIES = (
    "PKB",
    "Gerindra",
    "PDI Perjuangan",
    "Golkar",
    "NasDem",
    "Partai Buruh",
    "Gelora",
    "PKS",
    "PKN",
    "Hanura",
    "Garuda",
    "PAN",
    "PBB",
    "Demokrat",
    "PSI",
    "Perindo",
    "PPP",
    "Ummat",
)
TITLES = ("", "", "", "", "Lalu", "Baiq", "H.", "Hj.", "Ir.", "Drs.")
FIRST = """Ahmad Muhammad Abdul Zainal Mahsun Sahnan Rusdi Hairul Suhaimi Jumarni Mariani Siti Nurul
Fathul Hamdan Saiful Irwan Mulyadi Sapoan Haerudin Saprudin Sahrul Hidayat Wardani Kurniawan
Susanti Rahmawati Safitri Budi Agus Dewi Eka Fitri Gita Hendra Indra Joko Kartini Lestari Made
Nyoman Ketut Wayan Putu Komang Nengah Rina Sri Taufik Usman Vina Wahyu Yusuf Zulkifli Azhar
Baharudin Fauzan Hasanah Husnul Ilham Jamaludin Khairul Lukman Marzuki Nasrullah Rohani Salman
Ulfa Amaq Inaq Munawar Supardi Suhardi Juniarti Mutmainah Ruhaini Murni Asmuni""".split()
LAST = """Hamdani Fathurrahman Zulkarnain Santoso Rahman Hidayatullah Saputra Wijaya Susilo Pratama
Syahputra Maulana Ramadhan Kusuma Hakim Anwar Sholeh Mustafa Ridwan Hasan Firmansyah Gunawan
Setiawan Nugraha Permana Utami Sari Wulandari Anggraini Kartika Maharani Purnama Suryani Arifin
Basri Effendi Hanafi Ismail Jaelani Mahmud Nasir Qodri Rosyidi Sahbudin Thamrin Wahid Yamin Zaini
Abidin Badrun Fadli Ghozali Harun Iskandar Junaidi Kamarudin Lutfi Munir Nurdin Rizal Subhan""".split()
# Platforms and how many of a candidate's 20 accounts each gets.
PLATFORM_SHARE = (("facebook", 6), ("instagram", 5), ("tiktok", 4), ("x", 2), ("youtube", 2), ("telegram", 1))
NTB_REGIONS = ("52.01", "52.02", "52.03", "52.04", "52.05", "52.06", "52.07", "52.08", "52.71", "52.72")


def generate(
    candidates: int = 655,
    accounts: int = 20,
    *,
    seed: int = 2024,
    regions: tuple[str, ...] = ("52.01",),
    election_id: str = "pemilu-2024",
) -> list[dict[str, str]]:
    """CSV records (ACCOUNT_COLUMNS) for `candidates` people with `accounts` accounts each,
    every (platform, handle) unique; the same seed gives the same file."""
    rng = random.Random(seed)
    taken: set[tuple[str, str]] = set()
    names: set[str] = set()
    plan = [p for p, n in PLATFORM_SHARE for _ in range(n)]
    records = []
    for number in range(candidates):
        name = _name(rng, names)
        party = PARTIES[number % len(PARTIES)]
        region = regions[number % len(regions)]
        words = [w.lower().strip(".") for w in name.split() if not w.endswith(".")]
        for index in range(accounts):
            platform = plan[index % len(plan)]
            handle = _unique_handle(rng, platform, words, index, taken)
            records.append(_record(rng, name, party, election_id, region, platform, handle))
    return records


def write_csv(records: list[dict[str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=ACCOUNT_COLUMNS)
        writer.writeheader()
        writer.writerows(records)


def _name(rng: random.Random, used: set[str]) -> str:
    for _ in range(1000):
        parts = [rng.choice(TITLES), rng.choice(FIRST), rng.choice(LAST)]
        if rng.random() < 0.3:
            parts.insert(2, rng.choice(FIRST))
        name = " ".join(p for p in parts if p)
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("ran out of names")


def _variants(words: list[str], index: int) -> list[str]:
    first, last = words[0], words[-1]
    joined = "".join(words)
    forms = [
        joined,
        ".".join(words),
        "_".join(words),
        f"{joined}_official",
        f"{first}{last}.dprd",
        f"{first}.{last}.lobar",
        f"{last}{first}",
        f"{joined}2024",
        f"{first}_{last}_asli",
        f"{first}{last}id",
        f"caleg.{first}{last}",
        f"{first[0]}{last}",
        f"{first}{last}52",
    ]
    return forms[index % len(forms) :] + forms[: index % len(forms)]


def _unique_handle(
    rng: random.Random, platform: str, words: list[str], index: int, taken: set[tuple[str, str]]
) -> str:
    limit = {"x": 15, "tiktok": 24, "instagram": 30, "telegram": 32}.get(platform, 30)
    for form in _variants(words, index):
        for suffix in ("", *(str(n) for n in range(2, 100))):
            raw = form[: limit - len(suffix)].rstrip("._") + suffix
            if platform in ("x", "telegram"):
                raw = raw.replace(".", "_")
            try:
                handle = normalise_handle(platform, raw)
            except HandleError:
                break
            if (platform, handle) not in taken:
                taken.add((platform, handle))
                return raw
    raise RuntimeError(f"no free handle for {words} on {platform}")


def _record(
    rng: random.Random, name: str, party: str, election_id: str, region: str, platform: str, raw: str
) -> dict[str, str]:
    record = {
        "participant": name,
        "party": party,
        "election_id": election_id,
        "region_code": region,
        "platform": platform,
        "handle": "",
        "url": "",
    }
    style = rng.random()
    if platform == "facebook" and style < 0.05:
        # Profiles without a username are registered by their numeric id.
        record["url"] = f"https://www.facebook.com/profile.php?id=1000{rng.randrange(10**10, 10**11)}"
    elif style < 0.25:
        record["url"] = _profile_url(platform, raw)
    elif style < 0.35:
        record["handle"], record["url"] = "@" + raw, _profile_url(platform, raw)
    else:
        record["handle"] = rng.choice(("@", "")) + (raw if rng.random() < 0.8 else raw.title())
    return record


def _profile_url(platform: str, handle: str) -> str:
    return {
        "facebook": f"https://www.facebook.com/{handle}",
        "instagram": f"https://www.instagram.com/{handle}/",
        "tiktok": f"https://www.tiktok.com/@{handle}",
        "x": f"https://x.com/{handle}",
        "youtube": f"https://www.youtube.com/@{handle}",
        "telegram": f"https://t.me/{handle}",
    }[platform]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--candidates", type=int, default=655)
    parser.add_argument("--accounts", type=int, default=20, help="accounts per candidate")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--regions",
        default="52.01",
        help="comma-separated Kemendagri codes, or 'ntb' for the 10 NTB regencies",
    )
    parser.add_argument("--election", default="pemilu-2024")
    args = parser.parse_args(argv)
    regions = NTB_REGIONS if args.regions == "ntb" else tuple(args.regions.split(","))
    records = generate(
        args.candidates, args.accounts, seed=args.seed, regions=regions, election_id=args.election
    )
    write_csv(records, args.out)
    print(f"{len(records)} rows -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
