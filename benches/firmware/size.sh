#!/usr/bin/env bash
# Builds the footprint firmware (opt-level "s") and prints its flash
# footprint: .text + .rodata of the linked ELF. Target: <= 24 KiB.
# With --strict, exits 1 when the target is missed (a report otherwise:
# CI prints the number on every run).
set -euo pipefail
strict=0
[ "${1:-}" = "--strict" ] && strict=1
cd "$(dirname "$0")"
rustup target list --installed | grep -q thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
cargo build --release --quiet --bin alertgate-firmware
elf="${CARGO_TARGET_DIR:-target}/thumbv7em-none-eabihf/release/alertgate-firmware"
python3 - "$elf" "$strict" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"\x7fELF" and data[4] == 1, "expected a 32-bit ELF"
shoff, = struct.unpack_from("<I", data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
def section(i):
    return struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
strtab = section(shstrndx)
def name(off):
    start = strtab[4] + off
    return data[start:data.index(b"\0", start)].decode()
sizes = {}
for i in range(shnum):
    s = section(i)
    sizes[name(s[0])] = s[5]
text, rodata = sizes.get(".text", 0), sizes.get(".rodata", 0)
total = text + rodata
verdict = "meets" if total <= 24 * 1024 else "MISSES"
print(f".text {text} B, .rodata {rodata} B, total {total} B ({total/1024:.1f} KiB); {verdict} the target <= 24 KiB")
sys.exit(1 if sys.argv[2] == "1" and total > 24 * 1024 else 0)
PY
