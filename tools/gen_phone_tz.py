#!/usr/bin/env python3
"""Generate shared/data/phone_tz.tsv and shared/data/NOTICE for mnemo's
phone-number -> IANA time zone lookup (shared/src/phone_tz.rs).

Checked-in output was generated with:
  * PyPI `phonenumbers` 9.0.43 (libphonenumber metadata, Apache-2.0). The
    prefix -> time-zone map is `phonenumbers.tzdata.TIMEZONE_DATA`
    (dict: digit-string prefix after the '+' -> tuple of zone names), looked up
    by longest prefix in `phonenumbers.timezone`.
  * tz database 2025b as vendored in the chrono-tz 0.10.4 crate
    (~/.cargo/registry/src/*/chrono-tz-0.10.4/tz/: `backward` + zone files;
    public domain). This is the release chrono-tz compiles, so every emitted
    name is a valid `chrono_tz::Tz`. Used for legacy-name renames and for the
    "same clock" (link target) column.
  * /usr/share/zoneinfo/zone.tab from Debian tzdata 2025b (public domain) for
    the region (ISO 3166 alpha-2) -> zones table. zone.tab was chosen over
    zone1970.tab because it lists every country with its own zone name
    (NO -> Europe/Oslo, JE -> Europe/Jersey), which is what a user expects.

Nothing is fetched from the network. Output is deterministic (sorted, no
timestamps).

Rerun (from the repository root):
    python3 -m venv /tmp/venv-phonetz
    /tmp/venv-phonetz/bin/pip install phonenumbers==9.0.43
    /tmp/venv-phonetz/bin/python tools/gen_phone_tz.py
(If you upgrade phonenumbers, pass --allow-other-version and update the
version numbers in this header.)

Transformations applied to the libphonenumber map:
  1. "Etc/Unknown" is dropped. A prefix whose list becomes empty is kept with
     the list "-" so that it still shadows shorter prefixes (libphonenumber
     means "unknown" there, not "use the shorter prefix").
  2. Legacy names are renamed: a name that is neither a tz Zone nor listed in
     zone.tab is a `backward` link; it is replaced by the link's "#= TARGET1"
     annotation when present (the within-country rename, e.g. Pacific/Truk ->
     Pacific/Chuuk, Africa/Asmera -> Africa/Asmara), else by the link target
     (Asia/Calcutta -> Asia/Kolkata, America/Buenos_Aires ->
     America/Argentina/Buenos_Aires), repeated until the name is a Zone or in
     zone.tab. Each list is then de-duplicated and sorted.
  3. Lists that contradict zone.tab are replaced. libphonenumber derives its
     zones from CLDR metazones, so some countries get another country's zone:
     +213 Algeria -> Europe/Paris, +505 Nicaragua -> America/Chicago, +218
     Libya -> Europe/Bucharest (wrong offsets half the year), +353 Ireland ->
     Guernsey/Isle_of_Man/London. If no listed zone is the same clock (same tz
     link target) as any zone.tab zone of the regions sharing the prefix's
     calling code (phonenumbers.COUNTRY_CODE_TO_REGION_CODE), the list becomes
     those regions' zone.tab zones. Calling codes whose regions are not in
     zone.tab (AC, XK, non-geographic) are left alone.
  4. Redundant prefixes are removed: an entry whose list equals the list that
     the longest-prefix lookup would return without it. Lookup results are
     unchanged.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import os
import sys

EXPECTED_PHONENUMBERS = "9.0.43"
CHRONO_TZ_VERSION = "0.10.4"
UNKNOWN = "Etc/Unknown"
TZ_SOURCE_FILES = [
    "africa",
    "antarctica",
    "asia",
    "australasia",
    "backward",
    "etcetera",
    "europe",
    "northamerica",
    "southamerica",
]


def default_tz_source() -> str | None:
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    hits = sorted(
        glob.glob(
            os.path.join(cargo_home, "registry", "src", "*", f"chrono-tz-{CHRONO_TZ_VERSION}", "tz")
        )
    )
    return hits[0] if hits else None


def tz_release(tz_dir: str) -> str:
    with open(os.path.join(tz_dir, "NEWS"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("Release "):
                return line.split()[1]
    raise SystemExit(f"no 'Release' line in {tz_dir}/NEWS")


def read_tz_source(tz_dir: str) -> tuple[set[str], dict[str, tuple[str, str | None]]]:
    """Zones, and links as name -> (target, '#=' target1 or None)."""
    zones: set[str] = set()
    links: dict[str, tuple[str, str | None]] = {}
    for name in TZ_SOURCE_FILES:
        with open(os.path.join(tz_dir, name), encoding="utf-8") as f:
            for line in f:
                data, _, comment = line.partition("#")
                fields = data.split()
                if not fields:
                    continue
                if fields[0] == "Zone":
                    zones.add(fields[1])
                elif fields[0] == "Link":
                    target1 = None
                    if comment.startswith("= "):
                        target1 = comment[2:].split()[0]
                    links[fields[2]] = (fields[1], target1)
    return zones, links


def read_zone_tab(path: str) -> dict[str, list[str]]:
    regions: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            cc, zone = fields[0], fields[2]
            assert len(cc) == 2 and cc.isupper(), line
            regions.setdefault(cc, []).append(zone)
    return regions


def system_tzdata_version() -> str:
    try:
        with open("/usr/share/zoneinfo/tzdata.zi", encoding="utf-8") as f:
            first = f.readline()
        if first.startswith("# version "):
            return first.split()[2]
    except OSError:
        pass
    return "unknown"


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(root, "shared", "data"))
    ap.add_argument("--tz-source", default=default_tz_source(),
                    help="tz source dir (default: the chrono-tz crate's tz/)")
    ap.add_argument("--zone-tab", default="/usr/share/zoneinfo/zone.tab")
    ap.add_argument("--allow-other-version", action="store_true")
    args = ap.parse_args()

    import phonenumbers
    from phonenumbers import tzdata as pn_tzdata

    pn_version = phonenumbers.__version__
    if pn_version != EXPECTED_PHONENUMBERS and not args.allow_other_version:
        raise SystemExit(
            f"phonenumbers {pn_version} installed, header says {EXPECTED_PHONENUMBERS}; "
            "pass --allow-other-version and update the header"
        )
    if not args.tz_source or not os.path.isdir(args.tz_source):
        raise SystemExit("tz source not found; pass --tz-source DIR (chrono-tz crate's tz/)")

    release = tz_release(args.tz_source)
    sys_release = system_tzdata_version()
    if sys_release not in (release, "unknown"):
        print(f"warning: zone.tab is tzdata {sys_release}, chrono-tz has {release}", file=sys.stderr)

    zones, links = read_tz_source(args.tz_source)
    regions = read_zone_tab(args.zone_tab)
    zone_tab_names = {z for zs in regions.values() for z in zs}
    known = zones | set(links)
    for z in sorted(zone_tab_names):
        if z not in known:
            raise SystemExit(f"zone.tab name {z} unknown to tz {release}")

    def rename(name: str) -> str:
        seen = []
        while name not in zones and name not in zone_tab_names:
            if name not in links or name in seen:
                raise SystemExit(f"cannot resolve zone name {name} (via {seen})")
            seen.append(name)
            target, target1 = links[name]
            name = target1 or target
        return name

    def clock(name: str) -> str:
        seen = []
        while name in links:
            if name in seen:
                raise SystemExit(f"link loop at {name}")
            seen.append(name)
            name = links[name][0]
        if name not in zones:
            raise SystemExit(f"{name} is not a Zone")
        return name

    longest = pn_tzdata.TIMEZONE_LONGEST_PREFIX
    entries: dict[str, tuple[str, ...]] = {}
    renamed: dict[str, str] = {}
    for prefix, names in pn_tzdata.TIMEZONE_DATA.items():
        if not (prefix.isdigit() and prefix.isascii() and 1 <= len(prefix) <= longest):
            raise SystemExit(f"bad prefix {prefix!r}")
        out = set()
        for n in names:
            if n == UNKNOWN:
                continue
            r = rename(n)
            if r != n:
                renamed[n] = r
            out.add(r)
        entries[prefix] = tuple(sorted(out))

    cc_regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    replaced: list[str] = []
    for prefix, zs in sorted(entries.items()):
        cc = next((prefix[:n] for n in (1, 2, 3) if int(prefix[:n]) in cc_regions), None)
        if cc is None or not zs:
            continue
        region_zones = [z for r in cc_regions[int(cc)] for z in regions.get(r, [])]
        if not region_zones:
            continue
        region_clocks = {clock(z) for z in region_zones}
        if not any(clock(z) in region_clocks for z in zs):
            new = tuple(sorted(set(region_zones)))
            replaced.append(f"{prefix} {','.join(zs)} -> {','.join(new)}")
            entries[prefix] = new

    def inherited(prefix: str) -> tuple[str, ...]:
        for n in range(len(prefix) - 1, 0, -1):
            if prefix[:n] in entries:
                return entries[prefix[:n]]
        return ()

    kept = {p: z for p, z in entries.items() if z != inherited(p)}

    used = {z for zs in kept.values() for z in zs} | zone_tab_names
    aliases = {z: clock(z) for z in sorted(used) if clock(z) != z}

    lines = [
        "# mnemo phone prefix -> IANA time zone table. GENERATED by tools/gen_phone_tz.py; do not edit.",
        "#",
        "# [prefix] data: derived from libphonenumber's time-zone metadata",
        f"# (https://github.com/google/libphonenumber), via PyPI phonenumbers {pn_version}.",
        "# Copyright (C) 2011-2026 The Libphonenumber Authors. Licensed under the",
        "# Apache License, Version 2.0; see NOTICE in this directory. Modified: legacy",
        "# zone names renamed, Etc/Unknown dropped, lists contradicting zone.tab replaced,",
        "# redundant prefixes removed, reformatted.",
        f"# [region] data: tz database zone.tab (tzdata {sys_release}); [link] data: tz",
        f"# database {release} `backward`/zone files as vendored in chrono-tz {CHRONO_TZ_VERSION}.",
        "# The tz database is in the public domain.",
        "#",
        "# [prefix]  <digits after '+'> TAB <zone>{,<zone>}  ('-' = no zone known);",
        "#           look up by longest matching prefix.",
        "# [region]  <ISO 3166 alpha-2> TAB <zone>{,<zone>}  (zone.tab order).",
        "# [link]    <zone> TAB <zone it is a tz link of>  (same clock; only names used above).",
        f"# {len(kept)} prefixes (of {len(entries)} upstream), {len(regions)} regions, {len(aliases)} links.",
        f"# Renamed: {', '.join(f'{k}->{v}' for k, v in sorted(renamed.items()))}.",
        "# Replaced (no zone of the calling code's zone.tab regions listed):",
        *(f"#   {r}" for r in replaced),
        "[prefix]",
    ]
    for p in sorted(kept):
        lines.append(f"{p}\t{','.join(kept[p]) or '-'}")
    lines.append("[region]")
    for cc in sorted(regions):
        lines.append(f"{cc}\t{','.join(regions[cc])}")
    lines.append("[link]")
    for z, c in aliases.items():
        lines.append(f"{z}\t{c}")

    os.makedirs(args.out_dir, exist_ok=True)
    data_path = os.path.join(args.out_dir, "phone_tz.tsv")
    with open(data_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")

    license_path = None
    for pf in importlib.metadata.files("phonenumbers") or []:
        if os.path.basename(str(pf)) == "LICENSE":
            license_path = pf.locate()
            break
    if license_path is None:
        raise SystemExit("LICENSE not found in the phonenumbers distribution")
    with open(license_path, encoding="utf-8") as f:
        license_text = f.read().rstrip("\n")

    notice = f"""mnemo: third-party data in shared/data/
=======================================

phone_tz.tsv, section [prefix]
------------------------------
Derived from the time-zone metadata of libphonenumber
(https://github.com/google/libphonenumber), as bundled in the Python package
phonenumbers {pn_version} (https://github.com/daviddrysdale/python-phonenumbers).

    Copyright (C) 2011-2026 The Libphonenumber Authors

Licensed under the Apache License, Version 2.0 (the "License"); you may not use
this data except in compliance with the License. Unless required by applicable
law or agreed to in writing, it is distributed on an "AS IS" BASIS, WITHOUT
WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.

Changes made by mnemo (tools/gen_phone_tz.py): legacy IANA zone names replaced
by current names, "Etc/Unknown" entries dropped, zone lists that name no zone
of the calling code's countries replaced by those countries' zones from the tz
database's zone.tab, prefixes that do not change the longest-prefix lookup
result removed, and the data reformatted as tab-separated text.

phone_tz.tsv, sections [region] and [link]
------------------------------------------
Derived from the tz database (https://www.iana.org/time-zones), files zone.tab
and backward, which are in the public domain.

Apache License 2.0 (full text, from the phonenumbers distribution)
------------------------------------------------------------------
{license_text}
"""
    with open(os.path.join(args.out_dir, "NOTICE"), "w", encoding="utf-8", newline="\n") as f:
        f.write(notice)

    print(
        f"wrote {data_path}: {len(kept)} prefixes (of {len(entries)}), "
        f"{len(regions)} regions, {len(aliases)} links, {len(replaced)} replaced, "
        f"{os.path.getsize(data_path)} bytes",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
