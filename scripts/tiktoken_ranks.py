#!/usr/bin/env python3
"""Builds llmux's embedded BPE rank tables (cl100k_base, o200k_base) from the js-tiktoken npm package.

OpenAI's tiktoken rank files are not redistributed by the llmux repository: the build fetches the
MIT-licensed js-tiktoken package (pinned version and integrity below), decodes its compressed rank
modules back into OpenAI's `.tiktoken` text, checks that text against OpenAI's published SHA-256
(tiktoken_ext/openai_public.py `expected_hash`), and writes:

  <out>/cl100k_base.bpe, <out>/o200k_base.bpe   the compact tables (format below)
  <out>/tiktoken_ranks.cpp                       defines llmux::tokenizer::detail::embeddedRanks(),
                                                 which `.incbin`s the two tables into .rodata

Tarball source, first that applies:
  1. $LLMUX_TIKTOKEN_TGZ (a local js-tiktoken-1.0.21.tgz, for offline builds);
  2. <cache>/js-tiktoken-1.0.21.tgz from an earlier build;
  3. `npm pack js-tiktoken@1.0.21` into <cache>.
The tarball's sha512 must equal the registry's integrity value; any failure exits non-zero with a
message, which fails the build.

Table format (.bpe, little-endian, all offsets from the table start):
  0   char[8]  magic "LLMXBPE2"
  8   u32      n: token count; ranks are 0..n-1 (the script checks they are contiguous)
  12  u32      b: hash table size is 2^b slots
  16  u32      total bytes of all tokens
  20  u32      longest token in bytes
  24  u64      reserved (0)
  32  u32[n+1] offsets: token r is bytes[offsets[r], offsets[r+1]); zero-padded to 8 bytes
  ..  u64[2^b] open-addressing table (linear probing), slot = hash >> (64-b); 0 = empty, else
               low 32 bits = offsets[r], high 32 bits = (r+1) << 8 | byte length of token r,
               so a probe reads the token's bytes without touching the offsets
  ..  u8[]     token bytes, in rank order
The hash (token_hash below) is mirrored by src/tokenizer/rank_table.cpp; change both together.

Usage: tiktoken_ranks.py --out-dir DIR --cache-dir DIR
Standard library only.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "js-tiktoken"
VERSION = "1.0.21"
TARBALL = f"{PACKAGE}-{VERSION}.tgz"
INTEGRITY = ("sha512-biOj/6M5qdgx5TKjDnFT1ymSpM5tbd3ylwDtrQvFQSu0Z7bBYko2dF+W/aUkXUPuk6IVpRxk/"
             "3Q2sHOzGlS36g==")

# name -> (sha256 of the decoded .tiktoken text, token count)
ENCODINGS = {
    "cl100k_base": ("223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", 100256),
    "o200k_base": ("446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", 199998),
}

MAGIC = b"LLMXBPE2"
MASK64 = (1 << 64) - 1


class BuildError(Exception):
    pass


def token_hash(data: bytes) -> int:
    """64-bit hash of a token's bytes: 8-byte little-endian words (the tail zero-padded), each
    xored in and multiplied, then a final mix. Mirrored in C++."""
    h = 0x9E3779B97F4A7C15 ^ len(data)
    for i in range(0, len(data), 8):
        word = int.from_bytes(data[i:i + 8], "little")
        h = ((h ^ word) * 0xFF51AFD7ED558CCD) & MASK64
        h ^= h >> 32
    h ^= h >> 29
    h = (h * 0xC4CEB9FE1A85EC53) & MASK64
    h ^= h >> 32
    return h


def tarball_ok(path: str) -> bool:
    algo, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode() == expected


def obtain_tarball(cache_dir: str) -> str:
    env = os.environ.get("LLMUX_TIKTOKEN_TGZ")
    if env:
        if not os.path.isfile(env):
            raise BuildError(f"LLMUX_TIKTOKEN_TGZ={env} does not exist")
        if not tarball_ok(env):
            raise BuildError(f"LLMUX_TIKTOKEN_TGZ={env} is not {PACKAGE}@{VERSION} "
                             f"(integrity mismatch; expected {INTEGRITY})")
        return env
    os.makedirs(cache_dir, exist_ok=True)
    cached = os.path.join(cache_dir, TARBALL)
    if os.path.isfile(cached):
        if tarball_ok(cached):
            return cached
        os.remove(cached)  # a truncated or foreign file: fetch again
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"npm is not installed: install it (scripts/deps.sh) or set "
                         f"LLMUX_TIKTOKEN_TGZ to a local {TARBALL}")
    # Pack into a private directory first so a failed download never leaves a partial tarball.
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        cmd = [npm, "pack", f"{PACKAGE}@{VERSION}", "--ignore-scripts", "--pack-destination", tmp]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300)
        packed = os.path.join(tmp, TARBALL)
        if proc.returncode != 0 or not os.path.isfile(packed):
            raise BuildError(f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}); set "
                             f"LLMUX_TIKTOKEN_TGZ to a local {TARBALL} for offline builds.\n"
                             f"{proc.stderr.strip()}")
        if not tarball_ok(packed):
            raise BuildError(f"npm returned a {TARBALL} whose integrity is not {INTEGRITY}")
        os.replace(packed, cached)
    return cached


def read_member(tar: tarfile.TarFile, name: str) -> str:
    try:
        f = tar.extractfile(f"package/dist/ranks/{name}.cjs")
    except KeyError:
        f = None
    if f is None:
        raise BuildError(f"{TARBALL} has no dist/ranks/{name}.cjs")
    return f.read().decode("utf-8")


def decode_ranks(name: str, module_text: str) -> list:
    """js-tiktoken's `module.exports = {...};` -> tokens in rank order, checking OpenAI's hash."""
    prefix = "module.exports = "
    body = module_text.strip()
    if not body.startswith(prefix) or not body.endswith(";"):
        raise BuildError(f"dist/ranks/{name}.cjs: unexpected module layout")
    bpe_ranks = json.loads(body[len(prefix):-1])["bpe_ranks"]
    # Each line: "! <first rank> <base64 token> <base64 token> ..." (ranks consecutive per line).
    text = io.StringIO()
    by_rank = {}
    for line in bpe_ranks.split("\n"):
        if not line:
            continue
        _, offset, *tokens = line.split(" ")
        for i, tok in enumerate(tokens):
            rank = int(offset) + i
            text.write(f"{tok} {rank}\n")
            if rank in by_rank:
                raise BuildError(f"{name}: rank {rank} appears twice")
            by_rank[rank] = base64.b64decode(tok, validate=True)
    expected_hash, expected_count = ENCODINGS[name]
    got = hashlib.sha256(text.getvalue().encode("ascii")).hexdigest()
    if got != expected_hash:
        raise BuildError(f"{name}: decoded ranks have SHA-256 {got}, OpenAI's file has "
                         f"{expected_hash}: refusing to build with unverified ranks")
    n = len(by_rank)
    if n != expected_count or sorted(by_rank) != list(range(n)):
        raise BuildError(f"{name}: expected ranks 0..{expected_count - 1}, got {n} ranks")
    tokens = [by_rank[r] for r in range(n)]
    if len(set(tokens)) != n:
        raise BuildError(f"{name}: duplicate token bytes")
    if not set(bytes([b]) for b in range(256)) <= set(tokens):
        raise BuildError(f"{name}: not every single byte is a token")
    return tokens


def build_table(tokens: list) -> bytes:
    n = len(tokens)
    if n >= 1 << 24 or max(map(len, tokens)) > 255:
        raise BuildError("tokens do not fit the slot layout (24-bit rank, 8-bit length)")
    bits = max(10, (2 * n - 1).bit_length())  # load factor <= 0.5
    size = 1 << bits
    offsets = [0]
    for tok in tokens:
        offsets.append(offsets[-1] + len(tok))
    slots = [0] * size
    for rank, tok in enumerate(tokens):
        slot = token_hash(tok) >> (64 - bits)
        while slots[slot]:
            slot = (slot + 1) & (size - 1)
        slots[slot] = (((rank + 1) << 8 | len(tok)) << 32) | offsets[rank]
    blob = b"".join(tokens)
    header = MAGIC + struct.pack("<IIIIQ", n, bits, len(blob), max(map(len, tokens)), 0)
    offsets_bytes = struct.pack(f"<{n + 1}I", *offsets)
    offsets_bytes += b"\0" * (-len(offsets_bytes) % 8)
    return b"".join([header, offsets_bytes, struct.pack(f"<{size}Q", *slots), blob])


def write_atomically(path: str, data: bytes) -> None:
    # Always leave a fresh mtime (make compares it with the script's), but write atomically.
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def asm_string(path: str) -> str:
    return path.replace("\\", "\\\\").replace('"', '\\"')


def generated_cpp(bins: dict) -> str:
    lines = [
        f"// Generated by scripts/tiktoken_ranks.py from {PACKAGE} {VERSION}; do not edit.",
        "// Table SHA-256 (a change here recompiles this file, which re-reads the .bpe files):",
    ]
    for name, (path, digest) in bins.items():
        lines.append(f"//   {name}: {digest}")
    lines += [
        "#include <cstddef>",
        "#include <string_view>",
        "",
        "#if !defined(__ELF__)",
        "#error \"tiktoken_ranks.cpp embeds with ELF assembler directives\"",
        "#endif",
        "",
        "// .incbin keeps multi-megabyte tables out of the C++ front end entirely.",
        "__asm__(",
        "    \".pushsection .rodata.llmux_tiktoken,\\\"a\\\",@progbits\\n\"",
    ]
    for name, (path, _) in bins.items():
        sym = f"llmux_tiktoken_{name}"
        lines += [
            "    \".balign 16\\n\"",
            f"    \".globl {sym}\\n\"",
            f"    \".hidden {sym}\\n\"",
            f"    \"{sym}:\\n\"",
            f"    \".incbin \\\"{asm_string(path)}\\\"\\n\"",
            f"    \".globl {sym}_end\\n\"",
            f"    \".hidden {sym}_end\\n\"",
            f"    \"{sym}_end:\\n\"",
        ]
    lines += ["    \".popsection\\n\");", "", "extern \"C\" {"]
    for name in bins:
        sym = f"llmux_tiktoken_{name}"
        lines.append(f"extern const unsigned char {sym}[];")
        lines.append(f"extern const unsigned char {sym}_end[];")
    lines += ["}", "", "namespace llmux::tokenizer::detail {", "",
              "std::string_view embeddedRanks(std::string_view name) {"]
    for name in bins:
        sym = f"llmux_tiktoken_{name}"
        lines += [
            f"  if (name == \"{name}\") {{",
            f"    return {{reinterpret_cast<const char*>({sym}),",
            f"            static_cast<std::size_t>({sym}_end - {sym})}};",
            "  }",
        ]
    lines += ["  return {};", "}", "", "}  // namespace llmux::tokenizer::detail", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--cache-dir", required=True)
    args = ap.parse_args()
    try:
        tgz = obtain_tarball(args.cache_dir)
        os.makedirs(args.out_dir, exist_ok=True)
        bins = {}
        with tarfile.open(tgz, "r:gz") as tar:
            for name in ENCODINGS:
                table = build_table(decode_ranks(name, read_member(tar, name)))
                path = os.path.abspath(os.path.join(args.out_dir, f"{name}.bpe"))
                write_atomically(path, table)
                bins[name] = (path, hashlib.sha256(table).hexdigest())
        cpp = os.path.join(args.out_dir, "tiktoken_ranks.cpp")
        write_atomically(cpp, generated_cpp(bins).encode())
    except (BuildError, OSError, ValueError, subprocess.SubprocessError, tarfile.TarError) as e:
        print(f"tiktoken_ranks.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
