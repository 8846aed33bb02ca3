#!/usr/bin/env python3
"""Packs files into the archive MemoryFileSystem(archive:name:) reads, as a C array.

    Scripts/pack_files.py OUTPUT.c SYMBOL PATH_IN_ARCHIVE=FILE ... [PREFIX_IN_ARCHIVE=DIRECTORY/ ...]

A DIRECTORY/ argument packs every file directly in it. The C file defines the functions
`const unsigned char *SYMBOL_bytes(void)` and `unsigned long SYMBOL_count(void)` (Swift calls
functions, not arrays), so a firmware image links its network's weights in place of a file system
(Platforms/BareMetal).
"""
import os
import struct
import sys


def main():
    output, symbol, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    entries = []
    for spec in specs:
        name, path = spec.split("=", 1)
        if path.endswith("/"):
            for file in sorted(os.listdir(path)):
                if os.path.isfile(os.path.join(path, file)):
                    entries.append((name.rstrip("/") + "/" + file, os.path.join(path, file)))
        else:
            entries.append((name, path))
    archive = bytearray(struct.pack("<I", len(entries)))
    for name, path in entries:
        data = open(path, "rb").read()
        encoded = name.encode()
        archive += struct.pack("<I", len(encoded)) + encoded + struct.pack("<I", len(data)) + data
    lines = [f"// Written by Scripts/pack_files.py: {len(entries)} files, {len(archive)} bytes.",
             f"__attribute__((aligned(16))) static const unsigned char archive[] = {{"]
    for start in range(0, len(archive), 24):
        lines.append("    " + ", ".join(str(b) for b in archive[start:start + 24]) + ",")
    lines += ["};",
              f"const unsigned char *{symbol}_bytes(void) {{ return archive; }}",
              f"unsigned long {symbol}_count(void) {{ return {len(archive)}; }}"]
    with open(output, "w") as file:
        file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
