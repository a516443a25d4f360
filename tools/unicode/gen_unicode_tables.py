#!/usr/bin/env python3
"""Generates core/tokenizer/unicode_tables.cpp: the general category of every code point (as runs), the
White_Space property, the Han script, simple lowercase mappings, canonical decompositions, combining
classes and compositions, from the
Unicode Character Database.

Usage: gen_unicode_tables.py [UCD_DIR] [OUTPUT]
UCD_DIR defaults to /usr/share/unicode (Debian package unicode-data); OUTPUT to the file beside the tokenizer.
The C++ build never runs this script: the generated file is committed.
"""
import os
import re
import sys

# General categories; the order must match tabllm::unicode::GeneralCategory in unicode.h.
CATEGORIES = ["Cn", "Cc", "Cf", "Co", "Cs", "Ll", "Lm", "Lo", "Lt", "Lu", "Mc", "Me", "Mn", "Nd", "Nl", "No",
              "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "Sc", "Sk", "Sm", "So", "Zl", "Zp", "Zs"]
CLASSES = {name: i for i, name in enumerate(CATEGORIES)}
MAX_CODE_POINT = 0x10FFFF


def read_categories(path):
    """Returns a list of (first, last, class) for assigned code points, following <..., First>/<..., Last> pairs."""
    assigned = []
    range_start = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split(";")
            cp, name, category = int(fields[0], 16), fields[1], fields[2]
            cls = CLASSES[category]
            if name.endswith(", First>"):
                range_start = cp
                continue
            first = range_start if name.endswith(", Last>") else cp
            range_start = None
            assigned.append((first, cp, cls))
    return assigned


def category_runs(assigned):
    """Run-length encodes the category over 0..MAX_CODE_POINT; unassigned code points are Cn."""
    runs = []  # (start, class)

    def put(start, cls):
        if not runs or runs[-1][1] != cls:
            runs.append((start, cls))

    next_cp = 0
    for first, last, cls in sorted(assigned):
        if first > next_cp:
            put(next_cp, CLASSES["Cn"])
        put(first, cls)
        next_cp = last + 1
    if next_cp <= MAX_CODE_POINT:
        put(next_cp, CLASSES["Cn"])
    return runs


def read_white_space(path):
    ranges = []
    version = "unknown"
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"# PropList-([0-9.]+)\.txt", line)
            if m:
                version = m.group(1)
            m = re.match(r"([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*;\s*White_Space\b", line)
            if m:
                first = int(m.group(1), 16)
                ranges.append((first, int(m.group(2), 16) if m.group(2) else first))
    return version, ranges


def read_script(path, script):
    ranges = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*;\s*" + script + r"\b", line)
            if m:
                first = int(m.group(1), 16)
                ranges.append((first, int(m.group(2), 16) if m.group(2) else first))
    ranges.sort()
    merged = []
    for a, b in ranges:
        if merged and a == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def read_case_and_decompositions(path):
    """Simple lowercase mappings, and full canonical decompositions (recursive, without <tag> ones)."""
    lower = {}
    canonical = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split(";")
            cp = int(fields[0], 16)
            if fields[13]:
                lower[cp] = int(fields[13], 16)
            if fields[5] and not fields[5].startswith("<"):
                canonical[cp] = [int(x, 16) for x in fields[5].split()]

    def full(cp):
        if cp not in canonical:
            return [cp]
        return [d for part in canonical[cp] for d in full(part)]

    return sorted(lower.items()), sorted((cp, full(cp)) for cp in canonical), canonical


def read_combining_classes(path):
    classes = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split(";")
            if int(fields[3]) != 0:
                classes.append((int(fields[0], 16), int(fields[3])))
    return classes


def read_composition_exclusions(path):
    excluded = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*;\s*Full_Composition_Exclusion\b", line)
            if m:
                first = int(m.group(1), 16)
                excluded.update(range(first, (int(m.group(2), 16) if m.group(2) else first) + 1))
    return excluded


def main():
    ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.normpath(os.path.join(here, "../../core/tokenizer/unicode_tables.cpp"))
    runs = category_runs(read_categories(os.path.join(ucd, "UnicodeData.txt")))
    version, white_space = read_white_space(os.path.join(ucd, "PropList.txt"))
    han = read_script(os.path.join(ucd, "Scripts.txt"), "Han")
    lower, decompositions, canonical = read_case_and_decompositions(os.path.join(ucd, "UnicodeData.txt"))
    classes = read_combining_classes(os.path.join(ucd, "UnicodeData.txt"))
    excluded = read_composition_exclusions(os.path.join(ucd, "DerivedNormalizationProps.txt"))
    compositions = sorted((parts[0], parts[1], cp) for cp, parts in canonical.items()
                          if len(parts) == 2 and cp not in excluded)

    lines = [
        f"// Generated by tools/unicode/gen_unicode_tables.py from the Unicode {version} Character Database.",
        "// Do not edit: re-run the script (it reads /usr/share/unicode from Debian's unicode-data package).",
        '#include "tokenizer/unicode_tables.h"',
        "",
        "namespace tabllm::unicode::tables {",
        "",
        f"// {len(runs)} runs: (first code point << 8) | GeneralCategory, sorted; each run lasts until the next one starts.",
        f"const uint32_t kCategoryRuns[{len(runs)}] = {{",
    ]
    row = []
    for start, cls in runs:
        row.append(f"0x{(start << 8) | cls:08x},")
        if len(row) == 8:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines += [
        "};",
        f"const size_t kCategoryRunCount = {len(runs)};",
        "",
        "// White_Space property: inclusive ranges.",
        f"const CodePointRange kWhiteSpace[{len(white_space)}] = {{",
    ]
    lines += [f"    {{0x{a:04X}, 0x{b:04X}}}," for a, b in white_space]
    lines += [
        "};",
        f"const size_t kWhiteSpaceCount = {len(white_space)};",
        "",
        "// Script=Han: inclusive ranges.",
        f"const CodePointRange kHan[{len(han)}] = {{",
    ]
    lines += [f"    {{0x{a:04X}, 0x{b:04X}}}," for a, b in han]
    lines += [
        "};",
        f"const size_t kHanCount = {len(han)};",
        "",
        "// Simple lowercase mappings: (code point, lowercase), sorted.",
        f"const CodePointMapping kLowercase[{len(lower)}] = {{",
    ]
    row = []
    for a, b in lower:
        row.append(f"{{0x{a:04X}, 0x{b:04X}}},")
        if len(row) == 6:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    flat = []
    entries = []
    for cp, parts in decompositions:
        entries.append((cp, len(flat), len(parts)))
        flat += parts
    lines += [
        "};",
        f"const size_t kLowercaseCount = {len(lower)};",
        "",
        "// Full canonical decompositions (Hangul syllables excepted: they are algorithmic): each entry points",
        "// into kDecompositionCodePoints.",
        f"const Decomposition kDecompositions[{len(entries)}] = {{",
    ]
    row = []
    for cp, offset, count in entries:
        row.append(f"{{0x{cp:04X}, {offset}, {count}}},")
        if len(row) == 6:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines += [
        "};",
        f"const size_t kDecompositionCount = {len(entries)};",
        f"const uint32_t kDecompositionCodePoints[{len(flat)}] = {{",
    ]
    for i in range(0, len(flat), 10):
        lines.append("    " + " ".join(f"0x{c:04X}," for c in flat[i:i + 10]))
    lines += [
        "};",
        "",
        "// Canonical combining classes other than 0: (code point, class), sorted.",
        f"const CodePointMapping kCombiningClasses[{len(classes)}] = {{",
    ]
    for i in range(0, len(classes), 6):
        lines.append("    " + " ".join(f"{{0x{a:04X}, {b}}}," for a, b in classes[i:i + 6]))
    lines += [
        "};",
        f"const size_t kCombiningClassCount = {len(classes)};",
        "",
        "// Canonical compositions (primary composites, Hangul excepted): (first, second, composite), sorted.",
        f"const Composition kCompositions[{len(compositions)}] = {{",
    ]
    for i in range(0, len(compositions), 4):
        lines.append("    " + " ".join(f"{{0x{a:04X}, 0x{b:04X}, 0x{c:04X}}}," for a, b, c in compositions[i:i + 4]))
    lines += [
        "};",
        f"const size_t kCompositionCount = {len(compositions)};",
        "",
        "}  // namespace tabllm::unicode::tables",
        "",
    ]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"wrote {out}: {len(runs)} category runs, {len(white_space)} white-space ranges, {len(han)} Han ranges "
          f"(Unicode {version})")


if __name__ == "__main__":
    main()
